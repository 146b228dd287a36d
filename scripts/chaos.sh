#!/usr/bin/env bash
# make chaos: submit a few thousand jobs while a worker is SIGKILLed, Redis
# restarts and the Kafka broker restarts, on real services this script
# starts (it must own them, to restart them); every accepted job must
# finish with the right sum. Prints accepted=N finished=N lost=0 ...
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
for s in redis kafka; do
	if scripts/$s.sh status && ! scripts/$s.sh owned; then
		echo "chaos.sh: $s runs but was not started by scripts/$s.sh, which must restart it; stop it first" >&2
		exit 1
	fi
	ensure "$s"
done
export SUMPRIMES_TEST_KAFKA_BROKERS=127.0.0.1:9092 SUMPRIMES_TEST_REDIS_ADDR=127.0.0.1:6379
mkdir -p .cache
status=0
go test -tags chaos -count=1 -timeout 15m -run 'TestChaos|TestFrozenBroker' -v ./integration >.cache/chaos.log 2>&1 || status=$?
grep -E '^(accepted=|--- |ok|FAIL|PASS)|chaos_test.go' .cache/chaos.log || true
[ "$status" -eq 0 ] || { echo "chaos.sh: failed; full output in .cache/chaos.log" >&2; tail -n 60 .cache/chaos.log >&2; }
exit "$status"
