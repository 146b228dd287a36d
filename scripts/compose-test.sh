#!/usr/bin/env bash
# make compose-test: build the image from the real Dockerfile and run the real
# docker-compose.yml in Docker, with local stand-ins for the three upstream
# images (deployments/compose-test/), then check it from the host through
# ports published on 127.0.0.1: health, a job's exact sum, three workers
# sharing the partitions, a worker killed and one paused past its lease,
# Redis and Kafka restarted (lost=0), down and up again with the volumes,
# non-root and read-only containers (integration/compose).
#
# A Docker engine that answers is used as it is; otherwise Debian's dockerd
# is started here and stopped at the end. Docker Compose v2 is built from
# the Go module proxy into .cache/. Stand-in images are rebuilt when their
# files change: the Debian base with debootstrap, Go from the module proxy,
# Kafka's jars from Maven Central, Redis and Java from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
compose_version=v2.28.1
project=sumprimes-compose-test
go_version=$(go env GOVERSION)
go_version=${go_version#go}
standins=deployments/compose-test
mkdir -p .cache/run
say() { printf 'compose-test: %s\n' "$*" >&2; }

dockerd_pid=
compose=()
cleanup() {
	local status=$?
	if [ ${#compose[@]} -gt 0 ]; then
		[ "$status" -ne 0 ] && "${compose[@]}" logs --no-color --tail 40 >.cache/compose-test.logs 2>&1 &&
			say "last container logs in .cache/compose-test.logs"
		"${compose[@]}" down --volumes --remove-orphans >/dev/null 2>&1 || true
	fi
	if [ -n "$dockerd_pid" ]; then
		say "stopping the dockerd this script started"
		kill "$dockerd_pid" 2>/dev/null || true
		wait "$dockerd_pid" 2>/dev/null || true
	fi
	exit "$status"
}
trap cleanup EXIT

install() { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

ensure_docker() {
	docker info >/dev/null 2>&1 && return
	command -v dockerd >/dev/null || install docker.io
	say "no Docker engine answers: starting dockerd (log: .cache/run/dockerd.log)"
	dockerd >.cache/run/dockerd.log 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 100); do
		docker info >/dev/null 2>&1 && return
		sleep 0.3
	done
	tail -n 20 .cache/run/dockerd.log >&2
	say "dockerd did not answer"
	exit 1
}

ensure_compose() {
	local bin=.cache/compose-$compose_version/docker-compose
	if [ ! -x "$bin" ]; then
		say "building Docker Compose $compose_version from the Go module proxy"
		GOBIN=$root/.cache/compose-$compose_version go install "github.com/docker/compose/v2/cmd@$compose_version"
		mv ".cache/compose-$compose_version/cmd" "$bin"
	fi
	compose=("$root/$bin" -p "$project" --project-directory "$root" -f "$root/docker-compose.yml" -f "$root/$standins/docker-compose.test.yml")
}

# build IMAGE DIR [ARGS...]: docker build DIR unless IMAGE was built from
# the same files (a label carries their hash).
build() {
	local image=$1 dir=$2
	shift 2
	local hash
	hash=$( (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "$*") | sha256sum | cut -c1-16)
	if [ "$(docker image inspect -f '{{index .Config.Labels "sumprimes.standin"}}' "$image" 2>/dev/null)" = "$hash" ]; then
		return
	fi
	say "building $image"
	DOCKER_BUILDKIT=0 docker build --label "sumprimes.standin=$hash" "$@" -t "$image" "$dir" >.cache/run/build.log 2>&1 ||
		{ tail -n 30 .cache/run/build.log >&2; say "building $image failed; full log in .cache/run/build.log"; exit 1; }
}

debian_base() {
	docker image inspect sumprimes-standin/debian:bookworm >/dev/null 2>&1 && return
	command -v debootstrap >/dev/null || install debootstrap
	say "making the Debian base image with debootstrap"
	local dir=.cache/run/debootstrap
	rm -rf "$dir"
	debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >.cache/run/debootstrap.log 2>&1 ||
		{ tail -n 20 .cache/run/debootstrap.log >&2; exit 1; }
	tar -C "$dir" -c . | docker import - sumprimes-standin/debian:bookworm >/dev/null
	rm -rf "$dir"
}

# context NAME: a build context of the stand-in NAME's files, with the
# host's own CAs (/usr/local/share/ca-certificates) for the images that
# download over TLS, as the host does, through whatever it trusts.
context() {
	local ctx=.cache/run/standin-$1
	rm -rf "$ctx" && mkdir -p "$ctx/local-ca"
	cp -r "$standins/$1/." "$ctx/"
	cp /usr/local/share/ca-certificates/*.crt "$ctx/local-ca/" 2>/dev/null || true
	echo "$ctx"
}

kafka_context() {
	local libs=.cache/kafka-standin-libs
	if [ ! -f "$libs/.complete" ]; then
		command -v mvn >/dev/null || install maven openjdk-17-jre-headless
		say "fetching Kafka's jars for the stand-in from Maven Central"
		rm -rf "$libs"
		mvn -B -q -f "$standins/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$root/$libs" \
			-DincludeScope=runtime >.cache/run/mvn-standin.log 2>&1 || { tail -n 30 .cache/run/mvn-standin.log >&2; exit 1; }
		touch "$libs/.complete"
	fi
	local ctx
	ctx=$(context kafka)
	cp -r "$libs" "$ctx/libs"
	rm -f "$ctx/libs/.complete" "$ctx/pom.xml"
	echo "$ctx"
}

ensure_docker
ensure_compose
debian_base
build sumprimes-standin/golang:"$go_version" "$(context golang)" --build-arg GO_VERSION="$go_version"
build sumprimes-standin/distroless:nonroot "$standins/distroless"
build sumprimes-standin/redis:7 "$standins/redis"
build sumprimes-standin/kafka:4.1.1 "$(kafka_context)"
"${compose[@]}" down --volumes --remove-orphans >/dev/null 2>&1 || true
say "building sumprimes:dev from the Dockerfile"
# The classic builder: BuildKit needs the buildx plugin, which Debian's
# docker.io lacks. The API service's build makes the image all three run.
GO_VERSION=$go_version DOCKER_BUILDKIT=0 "${compose[@]}" build api >.cache/run/build.log 2>&1 ||
	{ tail -n 30 .cache/run/build.log >&2; say "building sumprimes:dev failed; full log in .cache/run/build.log"; exit 1; }

export GO_VERSION=$go_version SUMPRIMES_COMPOSE="${compose[*]}"
status=0
go test -tags compose -count=1 -timeout 25m -v ./integration/compose >.cache/compose-test.log 2>&1 || status=$?
grep -E '^(lost=|--- |ok|FAIL|PASS)|compose_test.go' .cache/compose-test.log || true
[ "$status" -eq 0 ] || { say "failed; full output in .cache/compose-test.log"; tail -n 40 .cache/compose-test.log >&2; }
exit "$status"
