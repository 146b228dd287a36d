# Sourced by scripts/test.sh and scripts/chaos.sh: start Redis and Kafka
# when nothing answers on their ports, and stop, on exit, only what was
# started here.
started=()
stop_started() {
	for s in "${started[@]}"; do scripts/"$s".sh stop || true; done
}
trap stop_started EXIT

# ensure SERVICE: use a running one, or start it (and stop it on exit).
ensure() {
	scripts/"$1".sh status || { scripts/"$1".sh start && started+=("$1"); }
}
