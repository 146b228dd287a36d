#!/usr/bin/env bash
# A Redis 7 server on 127.0.0.1 from Debian's redis-server package (installed
# with apt-get when missing), with AOF persistence as in production.
#
#   scripts/redis.sh start     fresh data, start, wait
#   scripts/redis.sh restart   shut down and start again on the same data (AOF)
#   scripts/redis.sh stop | status
#   scripts/redis.sh owned     exit 0 when the running server is this script's
#
# REDIS_PORT (default 6379) may be set. With REDIS_TLS=1 the server speaks
# TLS only (certificates from scripts/certs.sh; client certificates asked
# for but optional) and requires REDIS_PASSWORD (default sumprimes-test).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${REDIS_PORT:-6379}
run=$PWD/.cache/run/redis-$port
tls=()
if [ "${REDIS_TLS:-}" = 1 ]; then
	certs=$(scripts/certs.sh)
	tls=(--tls --cacert "$certs/ca.pem" --no-auth-warning -a "${REDIS_PASSWORD:-sumprimes-test}")
fi

say() { printf 'redis.sh: %s\n' "$*" >&2; }
answering() { redis-cli -h 127.0.0.1 -p "$port" "${tls[@]}" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
	say "installing Debian's redis-server"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

start() {
	ensure_redis
	if answering; then
		say "a Redis already answers on 127.0.0.1:$port; using it"
		return
	fi
	rm -rf "$run" && mkdir -p "$run"
	launch
}

launch() {
	local listen=(--port "$port")
	if [ ${#tls[@]} -gt 0 ]; then
		listen=(--port 0 --tls-port "$port" --tls-cert-file "$certs/server.pem" --tls-key-file "$certs/server.key"
			--tls-ca-cert-file "$certs/ca.pem" --tls-auth-clients optional --requirepass "${REDIS_PASSWORD:-sumprimes-test}")
	fi
	redis-server --bind 127.0.0.1 "${listen[@]}" --dir "$run" --daemonize yes \
		--pidfile "$run/redis.pid" --logfile "$run/redis.log" \
		--save '' --appendonly yes --appendfsync everysec
	for _ in $(seq 1 50); do
		if answering; then
			say "$(redis-server --version | cut -d' ' -f1-3) up on 127.0.0.1:$port"
			return
		fi
		sleep 0.1
	done
	say "redis did not start; its log:"
	tail -n 20 "$run/redis.log" >&2
	exit 1
}

restart() {
	[ -f "$run/redis.pid" ] || { say "no server started by this script on port $port"; exit 1; }
	redis-cli -h 127.0.0.1 -p "$port" "${tls[@]}" shutdown >/dev/null 2>&1 || true
	for _ in $(seq 1 50); do answering || break; sleep 0.1; done
	launch
}

stop() {
	[ -f "$run/redis.pid" ] || { say "no server started by this script on port $port"; return; }
	redis-cli -h 127.0.0.1 -p "$port" "${tls[@]}" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$run/redis.pid")" 2>/dev/null || true
	rm -rf "$run"
	say "stopped"
}

case ${1:-} in
start) start ;;
restart) restart ;;
stop) stop ;;
status) ensure_redis; answering ;;
owned) [ -f "$run/redis.pid" ] && kill -0 "$(cat "$run/redis.pid")" 2>/dev/null ;;
*) echo "usage: $0 start|restart|stop|status|owned" >&2; exit 2 ;;
esac
