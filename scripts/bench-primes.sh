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
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores CPUs, $(go version | cut -d' ' -f3), $(primesieve --version | head -1)"
