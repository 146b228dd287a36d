#!/usr/bin/env bash
# make bench-primes: the compute engines against primesieve, the fastest
# sieve there is (Debian package primesieve, installed when missing).
# Each cell is the best of three runs of the whole command, in seconds.
# Sieve rows compare our exact sum with primesieve's count of the same
# range: a count is the least a sieve can do, so the ratio says how close
# to the limit the sum is. Prefix rows have no primesieve counterpart that
# finishes in reasonable time unless BENCH_FULL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v primesieve >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq primesieve >/dev/null
fi
bin=$(mktemp -d)/sumprimes
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" .
cores=$(nproc)

best() { # best of three wall-clock seconds of "$@"
	local b=
	for _ in 1 2 3; do
		local s e
		s=$(date +%s.%N)
		"$@" >/dev/null
		e=$(date +%s.%N)
		b=$(awk -v b="$b" -v d="$(awk -v s="$s" -v e="$e" 'BEGIN{print e-s}')" 'BEGIN{print (b=="" || d<b) ? d : b}')
	done
	echo "$b"
}

printf '| work | threads | sumprimes (s) | primesieve count (s) | ratio |\n|---|---|---|---|---|\n'
row() { # label a b threads engine
	local ours theirs
	ours=$(best "$bin" sum "$2" "$3" --threads "$4" --engine "$5")
	if [ "$5" = sieve ] || [ "${BENCH_FULL:-}" = 1 ]; then
		theirs=$(best primesieve "$2" "$3" -t"$4" -c -q)
		printf '| %s | %s | %.3f | %.3f | %.2f |\n' "$1" "$4" "$ours" "$theirs" "$(awk -v o="$ours" -v t="$theirs" 'BEGIN{print o/t}')"
	else
		printf '| %s | %s | %.3f | — | — |\n' "$1" "$4" "$ours"
	fi
}
for t in 1 "$cores"; do
	row "sieve sum [1, 10^9]" 1 1000000000 "$t" sieve
	row "sieve sum [1, 10^10]" 1 10000000000 "$t" sieve
	row "sieve sum [10^12, 10^12+10^9]" 1000000000000 1001000000000 "$t" sieve
done
row "prefix S(10^12)" 1 1000000000000 1 prefix
row "prefix S(10^13)" 1 10000000000000 1 prefix

# The prefix engine beside primesum (Deléglise–Rivat adapted to prime sums,
# the yardstick of the combinatorial engine), built from the snapshot in
# ../shared/anchors/primesum (PRIMESUM_ANCHOR elsewhere) into .cache; one
# thread each, one run each (these take seconds to minutes), wall time and
# peak memory from /usr/bin/time. Ours runs where the planner expects it
# within BENCH_PREFIX_BUDGET seconds (default 60); past that the row shows the
# planner's estimate.
anchor=${PRIMESUM_ANCHOR:-../shared/anchors/primesum}
if [ -x "$anchor/build.sh" ]; then
	command -v /usr/bin/time >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
	primesum=$("$anchor/build.sh" "$PWD/.cache/primesum")
	seconds() { # a Go duration ("6m19.366s") in seconds
		awk -v d="$1" 'BEGIN {
			t = 0
			while (match(d, /^[0-9.]+(h|ms|us|ns|m|s)/) || match(d, /^[0-9.]+µs/)) {
				tok = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
				n = tok + 0; u = tok; sub(/^[0-9.]+/, "", u)
				t += n * (u == "h" ? 3600 : u == "m" ? 60 : u == "s" ? 1 : u == "ms" ? 1e-3 : u == "ns" ? 1e-9 : 1e-6)
			}
			print (d == "" ? t : 1e9)
		}'
	}
	measure() { # prints "seconds peak-MB" of "$@"
		/usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.3f %.1f", $1, $2/1024}'
	}
	printf '\n| S(x), one thread | primesum (s) | primesum peak (MB) | sumprimes prefix (s) | sumprimes peak (MB) | ours / primesum | planner estimate (s) | estimate / measured |\n|---|---|---|---|---|---|---|---|\n'
	for e in 11 12 13 14 15 16 17; do
		x=1$(printf '%0*d' "$e" 0)
		read -r ts tm <<<"$(measure "$primesum" "$x" -t1)"
		estimate=$( (timeout 2 "$bin" sum 1 "$x" --engine prefix --plan --threads 1 2>&1 >/dev/null || true) |
			sed -n 's/.*estimated \([^ ]*\) on one core.*/\1/p')
		secs=$(seconds "$estimate")
		if [ -n "$estimate" ] && awk -v s="$secs" -v b="${BENCH_PREFIX_BUDGET:-60}" 'BEGIN{exit !(s <= b)}'; then
			read -r os om <<<"$(measure "$bin" sum 1 "$x" --engine prefix --threads 1)"
			printf '| 10^%s | %s | %s | %s | %s | %.1f | %.3f | %.2f |\n' "$e" "$ts" "$tm" "$os" "$om" \
				"$(awk -v o="$os" -v t="$ts" 'BEGIN{print o/t}')" "$secs" "$(awk -v e="$secs" -v o="$os" 'BEGIN{print e/o}')"
		else
			printf '| 10^%s | %s | %s | not run | — | — | %s | — |\n' "$e" "$ts" "$tm" "$(if [ -n "$estimate" ]; then echo "$secs"; else echo "refused: past 10^16"; fi)"
		fi
	done
	echo "primesum: $("$primesum" --version | head -1)"
fi
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores CPUs, $(go version | cut -d' ' -f3), $(primesieve --version | head -1)"
