#!/usr/bin/env bash
# make bench: the full local stack on the real Kafka and Redis (started as
# make test does), an API process with rate limits off, then one and two
# worker processes (one job at a time each, one thread per job), loaded by
# `sumprimes bench`; prints a table and the 2-worker/1-worker throughput
# ratio on CPU-heavy jobs. Then the mixed-load scenarios, each beside its
# target: peer (the same trivial jobs through Asynq, bench/asynq, on the
# same machine and Redis), mixed (light jobs while heavy ones saturate the
# workers) and fair (one client's light jobs behind another's 500).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure redis
ensure kafka

dir=$(mktemp -d)
bin=$dir/sumprimes
go build -o "$bin" .
pids=()
finish() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
	stop_started
}
trap finish EXIT

run=bench$$
export SUMPRIMES_KAFKA_TOPIC=sumprimes.$run SUMPRIMES_KAFKA_DLQ_TOPIC=sumprimes.$run.dlq \
	SUMPRIMES_KAFKA_GROUP=sumprimes-$run SUMPRIMES_REDIS_KEY_PREFIX=$run: \
	SUMPRIMES_RATELIMIT_ENABLED=false SUMPRIMES_LIMITS_MAX_BACKLOG=0 SUMPRIMES_LOG_LEVEL=warn \
	SUMPRIMES_WORKER_CONCURRENCY=1 SUMPRIMES_WORKER_THREADS=1 SUMPRIMES_METRICS_ADDR=
api=http://127.0.0.1:18080
SUMPRIMES_HTTP_ADDR=127.0.0.1:18080 "$bin" api 2>"$dir/api.log" & pids+=($!)
"$bin" worker 2>"$dir/worker1.log" & pids+=($!)
for _ in $(seq 1 120); do "$bin" health --url $api/readyz 2>/dev/null && break; sleep 0.5; done

rows=()
bench() { # label workers args...
	local label=$1 workers=$2
	shift 2
	echo "bench: $label, $workers worker(s)" >&2
	local line
	line=$("$bin" bench --api-url $api "$@" | grep '^result ')
	rows+=("$label|$workers|$line")
	echo "$line"
}
heavy=(--a 1000000000000 --b 1000100000000) # a sieve over 10^8 numbers near 10^12
small=(--a 1 --b 1000000)
bench "small jobs [1, 10^6], closed loop, 16 clients" 1 "${small[@]}" --concurrency 16 --duration 10s >/dev/null
bench "small jobs [1, 10^6], open loop, 200/s" 1 "${small[@]}" --rate 200 --duration 10s >/dev/null
bench "CPU-heavy [10^12, 10^12+10^8], closed loop, 4 clients" 1 "${heavy[@]}" --concurrency 4 --duration 15s >/dev/null
one=${rows[-1]}
"$bin" worker 2>"$dir/worker2.log" & pids+=($!)
sleep 5 # let the consumer group give the new member its partitions
bench "CPU-heavy [10^12, 10^12+10^8], closed loop, 4 clients" 2 "${heavy[@]}" --concurrency 4 --duration 15s >/dev/null
two=${rows[-1]}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
printf '\n| load | workers | jobs | jobs/s | POST p50 / p99 (ms) | end to end p50 / p95 / p99 (ms) | errors |\n|---|---|---|---|---|---|---|\n'
for r in "${rows[@]}"; do
	IFS='|' read -r label workers line <<<"$r"
	printf '| %s | %s | %s | %s | %s / %s | %s / %s / %s | %s |\n' "$label" "$workers" "$(field jobs "$line")" \
		"$(field jobs_per_s "$line")" "$(field post_p50_ms "$line")" "$(field post_p99_ms "$line")" \
		"$(field e2e_p50_ms "$line")" "$(field e2e_p95_ms "$line")" "$(field e2e_p99_ms "$line")" "$(field errors "$line")"
done
printf '\nthroughput ratio, 2 workers / 1 worker, CPU-heavy jobs: %s\n' \
	"$(awk -v a="$(field jobs_per_s "$two")" -v b="$(field jobs_per_s "$one")" 'BEGIN{printf "%.2f", a/b}')"

# The scenarios of the mixed-load issue, each on a fresh stack (its own
# topic and group, so one scenario's leftover jobs cannot slow the next),
# each figure beside its target.
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
stack() { # NAME WORKER_CONCURRENCY: an API and one worker on topic sumprimes.$run-NAME
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
	local env=(SUMPRIMES_KAFKA_TOPIC=sumprimes.$run-$1 SUMPRIMES_KAFKA_DLQ_TOPIC=sumprimes.$run-$1.dlq
		SUMPRIMES_KAFKA_GROUP=sumprimes-$run-$1 SUMPRIMES_WORKER_CONCURRENCY=$2 SUMPRIMES_WORKER_THREADS=0)
	env "${env[@]}" SUMPRIMES_HTTP_ADDR=127.0.0.1:18080 "$bin" api 2>"$dir/api-$1.log" & pids+=($!)
	env "${env[@]}" "$bin" worker 2>"$dir/worker-$1.log" & pids+=($!)
	for _ in $(seq 1 120); do "$bin" health --url $api/readyz 2>/dev/null && break; sleep 0.5; done
	sleep 3 # the worker joins its group
}
light=(--a 1 --b 1000)
scenarios=()

# peer: trivial jobs, worker concurrency 8, against Asynq at concurrency 8 on the same Redis.
stack peer 8
echo "bench: peer, sumprimes" >&2
ours=$("$bin" bench --api-url $api "${light[@]}" --concurrency 64 --duration 10s 2>/dev/null | grep '^result ')
echo "bench: peer, Asynq v0.26 (enqueue 20,000, then process)" >&2
theirs=$(cd bench && go run ./asynq -redis 127.0.0.1:6379 -jobs 20000 -concurrency 8 | grep '^result ')
scenarios+=("peer: trivial jobs [1, 1000], sumprimes closed loop 64 clients / Asynq|$(field jobs_per_s "$ours") / $(field jobs_per_s "$theirs") jobs/s|≥ 1.0×|$(awk -v a="$(field jobs_per_s "$ours")" -v b="$(field jobs_per_s "$theirs")" 'BEGIN{printf "%.2f", a/b}')")

# mixed: heavy jobs saturate the workers while light ones arrive at 10/s.
stack mixed 2
echo "bench: mixed, heavy [9.97·10^12, 10^13] from 6 clients, light at 10/s" >&2
"$bin" bench --api-url $api --a 9970000000000 --b 10000000000000 --concurrency 6 --duration 40s >/dev/null 2>&1 & heavy=$!
sleep 2
line=$("$bin" bench --api-url $api "${light[@]}" --rate 10 --duration 15s 2>/dev/null | grep '^result ' || true)
kill $heavy 2>/dev/null || true
p99=$(field e2e_p99_ms "$line")
scenarios+=("mixed: light jobs' end-to-end p50 / p99 while heavy jobs saturate the workers|$(field e2e_p50_ms "$line") / ${p99:-none finished} ms ($(field jobs "$line") finished, $(field errors "$line") not)|p99 ≤ 100 ms|$(awk -v a="${p99:-0}" 'BEGIN{printf "%.1f", a/100}')")

# fair: client B's light jobs at 5/s, alone, then behind client A's 500 heavier jobs.
stack fair 2
echo "bench: fair, B alone" >&2
alone=$("$bin" bench --api-url $api --api-key client-b "${light[@]}" --rate 5 --duration 15s 2>/dev/null | grep '^result ')
echo "bench: fair, B behind A's 500 jobs [10^12, 10^12+10^9]" >&2
"$bin" bench --api-url $api --api-key client-a --a 1000000000000 --b 1001000000000 --jobs 500 --concurrency 500 --duration 10s >/dev/null 2>&1 & hog=$!
sleep 3
behind=$("$bin" bench --api-url $api --api-key client-b "${light[@]}" --rate 5 --duration 15s 2>/dev/null | grep '^result ' || true)
kill $hog 2>/dev/null || true
b99=$(field e2e_p99_ms "$behind")
scenarios+=("fair: B's end-to-end p50 / p99, alone → behind A's 500 jobs|$(field e2e_p50_ms "$alone") / $(field e2e_p99_ms "$alone") → $(field e2e_p50_ms "$behind") / ${b99:-none finished} ms|within 2× of alone|$(awk -v a="${b99:-0}" -v b="$(field e2e_p99_ms "$alone")" 'BEGIN{printf "%.1f", a/b}')")

printf '
| scenario | measured | target | ratio to target or peer |\n|---|---|---|---|\n'
for r in "${scenarios[@]}"; do
	IFS='|' read -r what measured target ratio <<<"$r"
	printf '| %s | %s | %s | %s |\n' "$what" "$measured" "$target" "$ratio"
done
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; API, workers, Kafka, Redis and the load generator share them"
