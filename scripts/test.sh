#!/usr/bin/env bash
# make test: the whole suite, under the race detector, against a real Apache
# Kafka broker and a real Redis server. Services already answering are used
# as they are; the ones this script starts, it stops again.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/services.sh
export SUMPRIMES_TEST_KAFKA_BROKERS=${SUMPRIMES_TEST_KAFKA_BROKERS:-127.0.0.1:9092}
export SUMPRIMES_TEST_REDIS_ADDR=${SUMPRIMES_TEST_REDIS_ADDR:-127.0.0.1:6379}
cluster=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 # three masters, for the store and pipeline on a Cluster
export SUMPRIMES_TEST_REDIS_CLUSTER=${SUMPRIMES_TEST_REDIS_CLUSTER:-$cluster}
# Services elsewhere (other addresses in the environment) are the caller's.
[ "$SUMPRIMES_TEST_REDIS_ADDR" = 127.0.0.1:6379 ] && ensure redis
[ "$SUMPRIMES_TEST_REDIS_CLUSTER" = "$cluster" ] && ensure redis-cluster
# TLS only, password and certificates as scripts/redis-tls.sh and scripts/certs.sh make them.
export SUMPRIMES_TEST_REDIS_TLS_ADDR=${SUMPRIMES_TEST_REDIS_TLS_ADDR:-127.0.0.1:6390}
export SUMPRIMES_TEST_CERTS=${SUMPRIMES_TEST_CERTS:-$(scripts/certs.sh)}
[ "$SUMPRIMES_TEST_REDIS_TLS_ADDR" = 127.0.0.1:6390 ] && ensure redis-tls
# Master, replica and a sentinel; the Sentinel test fails the master over (scripts/redis-sentinel.sh).
export SUMPRIMES_TEST_REDIS_SENTINEL=${SUMPRIMES_TEST_REDIS_SENTINEL:-127.0.0.1:26400}
[ "$SUMPRIMES_TEST_REDIS_SENTINEL" = 127.0.0.1:26400 ] && ensure redis-sentinel
[ "$SUMPRIMES_TEST_KAFKA_BROKERS" = 127.0.0.1:9092 ] && ensure kafka

# The compose files must stay valid; checking them needs no Docker engine.
if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
else
	command -v docker-compose >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	compose=(docker-compose)
fi
"${compose[@]}" config -q
KAFKA_SASL_PASSWORD=x REDIS_PASSWORD=x SUMPRIMES_AUTH_KEYS=ci:x \
	"${compose[@]}" -f docker-compose.yml -f docker-compose.secured.yml config -q # with stand-in secrets
echo "test.sh: docker-compose.yml and docker-compose.secured.yml are valid" >&2

scripts/browser/setup.sh # Chromium and playwright-core for the web page's test
if ! command -v st >/dev/null; then # schemathesis, run against the API's own OpenAPI document
	python3 -m pip install --quiet --disable-pip-version-check schemathesis==4.32.5
	hash -r
fi

go test -race -count=1 -timeout 20m "$@" ./...
# The Kubernetes manifests, rendered by kustomize and strictly decoded into
# the upstream types, and their KEDA triggers read by KEDA's own scalers
# against the broker and a real Prometheus (a module of its own, so the
# service does not carry the Kubernetes and KEDA libraries).
command -v prometheus >/dev/null ||
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
(cd deployments && go test -count=1 "$@" ./...)
# make bench's and make bench-primes' own programs (a module of their own
# too) build and pass vet.
(cd bench && go vet ./...)
# The Prometheus alerting rules, checked and unit-tested by promtool (from the
# same Debian package).
promtool check rules deployments/prometheus/alerts.yaml >/dev/null
promtool test rules deployments/prometheus/alerts_test.yaml >/dev/null
echo "test.sh: the alerting rules pass promtool check rules and test rules" >&2
# The prime engines' heaviest checks (sums up to 10^12) run at full size only
# without the race detector, which slows the sieve some fifty times.
go test -count=1 -timeout 10m "$@" ./pkg/primes
