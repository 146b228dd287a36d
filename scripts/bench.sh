#!/usr/bin/env bash
# make bench: the full local stack on the real Kafka and Redis (started as
# make test does), an API process with rate limits off, then one and two
# worker processes (one job at a time each, one thread per job), loaded by
# `sumprimes bench`; prints a table and the 2-worker/1-worker throughput
# ratio on CPU-heavy jobs.
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
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; API, workers, Kafka, Redis and the load generator share them"
