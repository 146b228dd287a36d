#!/usr/bin/env bash
# A three-master Redis Cluster on 127.0.0.1 (ports 7001-7003 unless
# REDIS_CLUSTER_PORT sets the first), from Debian's redis-server, with AOF
# as in production: for the tests that hold the store to a real cluster.
#
#   scripts/redis-cluster.sh start    fresh data, start three nodes, create the cluster, wait
#   scripts/redis-cluster.sh stop     stop the nodes this script started, drop their data
#   scripts/redis-cluster.sh status   exit 0 when a cluster answers, its state ok
#   scripts/redis-cluster.sh owned    exit 0 when the running nodes are this script's
set -euo pipefail
cd "$(dirname "$0")/.."
first=${REDIS_CLUSTER_PORT:-7001}
ports=("$first" "$((first + 1))" "$((first + 2))")
run=$PWD/.cache/run/redis-cluster-$first

say() { printf 'redis-cluster.sh: %s\n' "$*" >&2; }
healthy() { redis-cli -h 127.0.0.1 -p "$first" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start() {
	scripts/redis.sh status >/dev/null 2>&1 || true # installs Debian's redis-server when missing
	if healthy; then
		say "a cluster already answers on 127.0.0.1:$first; using it"
		return
	fi
	rm -rf "$run"
	local nodes=()
	for p in "${ports[@]}"; do
		mkdir -p "$run/$p"
		redis-server --bind 127.0.0.1 --port "$p" --dir "$run/$p" --daemonize yes \
			--pidfile "$run/$p/redis.pid" --logfile "$run/$p/redis.log" \
			--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
			--save '' --appendonly yes --appendfsync everysec
		nodes+=("127.0.0.1:$p")
	done
	for p in "${ports[@]}"; do
		for _ in $(seq 1 50); do
			redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG && break
			sleep 0.1
		done
	done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$run/create.log" 2>&1 ||
		{ say "cluster create failed:"; cat "$run/create.log" >&2; exit 1; }
	for _ in $(seq 1 100); do
		if healthy; then
			say "$(redis-server --version | cut -d' ' -f1-3) cluster of three masters up on 127.0.0.1:${ports[0]}-${ports[2]}"
			return
		fi
		sleep 0.1
	done
	say "the cluster did not become healthy"
	exit 1
}

stop() {
	[ -d "$run" ] || { say "no cluster started by this script on port $first"; return; }
	for p in "${ports[@]}"; do
		redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 ||
			kill "$(cat "$run/$p/redis.pid" 2>/dev/null)" 2>/dev/null || true
	done
	rm -rf "$run"
	say "stopped"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) healthy ;;
owned) [ -f "$run/$first/redis.pid" ] && kill -0 "$(cat "$run/$first/redis.pid")" 2>/dev/null ;;
*) echo "usage: $0 start|stop|status|owned" >&2; exit 2 ;;
esac
