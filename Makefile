# sumprimes — see README.md.
GO ?= go

.PHONY: run test chaos compose-test build bench bench-primes primes-mutations services-up services-down clean

## run: the whole service on http://127.0.0.1:8080, embedded broker and store (needs only Go)
run:
	$(GO) run . dev

## test: every test under -race, on a real Kafka broker and Redis server (started and stopped as needed)
test:
	scripts/test.sh

## chaos: thousands of jobs through SIGKILLed workers and restarted Redis and Kafka; prints lost=0
chaos:
	scripts/chaos.sh

## compose-test: the image built from the Dockerfile and docker-compose.yml run in Docker (local stand-ins for the upstream images), checked from the host; prints lost=0
compose-test:
	scripts/compose-test.sh

## build: the sumprimes binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sumprimes .

## bench: the local stack on real Kafka and Redis under `sumprimes bench`, with 1 then 2 workers; prints a table
bench:
	scripts/bench.sh

## bench-primes: the sieve and prefix engines beside primesieve, as a table with ratios
bench-primes:
	scripts/bench-primes.sh

## primes-mutations: breaks each term of the combinatorial engine in turn and checks a test fails (about a minute; CI runs it)
primes-mutations:
	scripts/primes-mutations.sh

## services-up / services-down: the real Kafka and Redis servers (single, Cluster, TLS, Sentinel) that `make test` uses, for running tests by hand
services-up:
	scripts/redis.sh start
	scripts/redis-cluster.sh start
	scripts/redis-tls.sh start
	scripts/redis-sentinel.sh start
	scripts/kafka.sh start

services-down:
	scripts/kafka.sh stop
	scripts/redis-cluster.sh stop
	scripts/redis-tls.sh stop
	scripts/redis-sentinel.sh stop
	scripts/redis.sh stop

clean:
	rm -rf bin .cache/run
