#!/usr/bin/env bash
# A TLS-only Redis 7 on 127.0.0.1:6390 (REDIS_TLS_PORT), password
# sumprimes-test, certificates from scripts/certs.sh: scripts/redis.sh in
# its TLS mode, under a name of its own for make test. Same commands.
export REDIS_TLS=1 REDIS_PORT=${REDIS_TLS_PORT:-6390}
exec "$(dirname "$0")/redis.sh" "$@"
