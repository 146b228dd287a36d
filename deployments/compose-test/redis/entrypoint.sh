#!/bin/sh
# As the official image's entry point: a bare "redis-server" (or options
# only) runs the server, as user redis, owning /data.
set -e
case "$1" in -*) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
	shift
	set -- redis-server --protected-mode no "$@"
	if [ "$(id -u)" = 0 ]; then
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$@"
	fi
fi
exec "$@"
