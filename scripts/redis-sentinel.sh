#!/usr/bin/env bash
# A Redis Sentinel set on 127.0.0.1 from Debian's redis-server: a master
# (6400), its replica (6401) and one sentinel (26400, password
# sentinel-secret) watching them as "sumprimes", with AOF as in production.
#
#   scripts/redis-sentinel.sh start      fresh data, start all three, wait until the sentinel knows the replica
#   scripts/redis-sentinel.sh failover   make the sentinel promote the replica, and wait until it has
#   scripts/redis-sentinel.sh stop | status | owned
set -euo pipefail
cd "$(dirname "$0")/.."
master=6400 replica=6401 sentinel=26400 name=sumprimes pass=sentinel-secret
run=$PWD/.cache/run/redis-sentinel-$sentinel

say() { printf 'redis-sentinel.sh: %s\n' "$*" >&2; }
ask() { redis-cli -p "$sentinel" --no-auth-warning -a "$pass" "$@" 2>/dev/null; }
healthy() { ask sentinel replicas "$name" | grep -q "^127.0.0.1$"; }
current() { ask sentinel get-master-addr-by-name "$name" | sed -n 2p; }

server() { # PORT ARGS...
	local port=$1
	shift
	mkdir -p "$run/$port"
	redis-server --bind 127.0.0.1 --port "$port" --dir "$run/$port" --daemonize yes \
		--pidfile "$run/$port/redis.pid" --logfile "$run/$port/redis.log" \
		--save '' --appendonly yes --appendfsync everysec "$@"
}

start() {
	scripts/redis.sh status >/dev/null 2>&1 || true # installs Debian's redis-server when missing
	if healthy; then
		say "a sentinel already watches $name on 127.0.0.1:$sentinel; using it"
		return
	fi
	rm -rf "$run"
	server "$master"
	server "$replica" --replicaof 127.0.0.1 "$master"
	mkdir -p "$run/$sentinel"
	cat >"$run/$sentinel/sentinel.conf" <<CONF
bind 127.0.0.1
port $sentinel
daemonize yes
pidfile $run/$sentinel/redis.pid
logfile $run/$sentinel/sentinel.log
dir $run/$sentinel
requirepass $pass
sentinel monitor $name 127.0.0.1 $master 1
sentinel down-after-milliseconds $name 2000
sentinel failover-timeout $name 10000
CONF
	redis-server "$run/$sentinel/sentinel.conf" --sentinel
	for _ in $(seq 1 150); do
		if healthy; then
			say "$(redis-server --version | cut -d' ' -f1-3) master 127.0.0.1:$master, replica :$replica, sentinel :$sentinel up"
			return
		fi
		sleep 0.1
	done
	say "the sentinel did not find the replica"
	exit 1
}

failover() {
	local before
	before=$(current)
	# Refused (NOGOODSLAVE) until the sentinel has read the replica's INFO.
	for _ in $(seq 1 60); do
		[ "$(ask sentinel failover "$name")" = OK ] && break
		sleep 0.5
	done
	for _ in $(seq 1 300); do
		if [ "$(current)" != "$before" ] && healthy; then
			say "failed over: the master is now 127.0.0.1:$(current)"
			return
		fi
		sleep 0.1
	done
	say "no failover happened"
	exit 1
}

stop() {
	[ -d "$run" ] || { say "no sentinel set started by this script"; return; }
	for p in "$sentinel" "$master" "$replica"; do
		kill "$(cat "$run/$p/redis.pid" 2>/dev/null)" 2>/dev/null || true
	done
	rm -rf "$run"
	say "stopped"
}

case ${1:-} in
start) start ;;
failover) failover ;;
stop) stop ;;
status) healthy ;;
owned) [ -f "$run/$sentinel/redis.pid" ] && kill -0 "$(cat "$run/$sentinel/redis.pid")" 2>/dev/null ;;
*) echo "usage: $0 start|failover|stop|status|owned" >&2; exit 2 ;;
esac
