#!/usr/bin/env bash
# A single-node Apache Kafka 4 (KRaft, combined broker and controller) on
# 127.0.0.1, run from Maven Central jars fetched with mvn into .cache/.
#
#   scripts/kafka.sh start    fetch if needed, format fresh storage, start, wait
#   scripts/kafka.sh restart  stop the broker cleanly and start it on the same data
#   scripts/kafka.sh stop     stop the broker this script started, drop its data
#   scripts/kafka.sh status   exit 0 when something answers on the port
#   scripts/kafka.sh owned    exit 0 when the running broker is this script's
#   scripts/kafka.sh freeze   SIGSTOP the broker: it accepts connections, answers nothing
#   scripts/kafka.sh thaw     SIGCONT it again
#
# Beside the plaintext listener, a SASL_SSL one (the port after the
# controller's, 9094 by default) serves user sumprimes, password
# sumprimes-secret, over PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, with a
# certificate from scripts/certs.sh.
#
# KAFKA_PORT (default 9092; the controller takes the next port) and
# KAFKA_VERSION (default from scripts/kafka/pom.xml) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
port=${KAFKA_PORT:-9092}
cport=$((port + 1))
sport=$((port + 2))
version=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' scripts/kafka/pom.xml)}
libs=$root/.cache/kafka-$version/libs
run=$root/.cache/run/kafka-$port
# The JVM settings of Kafka's own start scripts (kafka-server-start.sh and
# kafka-run-class.sh): a 1 GB heap and G1 aiming at 20 ms pauses. A smaller
# young generation collected every second showed as latency tails. One
# setting of ours: what survives a young collection goes to the old
# generation at once (MaxTenuringThreshold=0) instead of being copied
# between survivor spaces up to 15 times; that copying was most of each
# pause (15–28 ms → 4–17 ms at 1,000 jobs/s, the open loop's POST p99
# 16–22 ms → 7–10 ms), and the old generation grows some 1 MB a collection.
java=(java -Xms1g -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:MaxTenuringThreshold=0
	-XX:+ExplicitGCInvokesConcurrent "-Dlog4j2.configurationFile=$root/scripts/kafka/log4j2.properties" -cp "$libs/*")
# KAFKA_OPTS adds JVM options, as in Kafka's own scripts (say, -Xlog:gc:file=gc.log).
read -ra extra <<<"${KAFKA_OPTS:-}"
java=("${java[0]}" "${extra[@]}" "${java[@]:1}")

say() { printf 'kafka.sh: %s\n' "$*" >&2; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_tools() {
	local missing=()
	command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || missing+=(maven)
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

fetch() {
	[ -f "$libs/.complete" ] && return
	ensure_tools
	say "fetching Apache Kafka $version from Maven Central into $libs"
	rm -rf "$libs"
	mkdir -p "$root/.cache"
	if ! mvn -B -Dstyle.color=never -f scripts/kafka/pom.xml -Dkafka.version="$version" \
		dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime >"$root/.cache/mvn.log" 2>&1; then
		tail -n 40 "$root/.cache/mvn.log" >&2
		say "mvn failed; full log in .cache/mvn.log"
		exit 1
	fi
	touch "$libs/.complete"
}

start() {
	if listening "$port"; then
		say "something already listens on 127.0.0.1:$port; using it"
		return
	fi
	fetch
	rm -rf "$run" && mkdir -p "$run/data"
	local certs
	certs=$(scripts/certs.sh)
	cat "$certs/server.key" "$certs/server.pem" >"$run/keystore.pem"
	cat >"$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sport
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_sumprimes="sumprimes-secret";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$run/keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.pem
ssl.client.auth=requested
log.dirs=$run/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
	"${java[@]}" kafka.tools.StorageTool format --ignore-formatted \
		--add-scram 'SCRAM-SHA-256=[name=sumprimes,password=sumprimes-secret]' \
		--add-scram 'SCRAM-SHA-512=[name=sumprimes,password=sumprimes-secret]' \
		-t "$("${java[@]}" kafka.tools.StorageTool random-uuid)" -c "$run/server.properties" >"$run/format.log" 2>&1 ||
		{ cat "$run/format.log" >&2; exit 1; }
	launch
}

launch() {
	nohup "${java[@]}" kafka.Kafka "$run/server.properties" >>"$run/kafka.log" 2>&1 &
	echo $! >"$run/pid"
	for _ in $(seq 1 120); do
		if listening "$port" && listening "$sport"; then
			say "Apache Kafka $version up on 127.0.0.1:$port (log: $run/kafka.log)"
			return
		fi
		kill -0 "$(cat "$run/pid")" 2>/dev/null || break
		sleep 0.5
	done
	say "broker did not start; its log:"
	tail -n 40 "$run/kafka.log" >&2
	exit 1
}

# halt stops the broker cleanly (a controlled shutdown flushes its logs).
halt() {
	local pid
	pid=$(cat "$run/pid")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$pid" 2>/dev/null || true
	for _ in $(seq 1 40); do listening "$port" || break; sleep 0.25; done
}

restart() {
	[ -f "$run/pid" ] || { say "no broker started by this script on port $port"; exit 1; }
	halt
	launch
}

stop() {
	[ -f "$run/pid" ] || { say "no broker started by this script on port $port"; return; }
	halt
	rm -rf "$run"
	say "stopped"
}

# signal SIG: send SIG to the broker this script started.
signal() {
	[ -f "$run/pid" ] || { say "no broker started by this script on port $port"; exit 1; }
	kill -"$1" "$(cat "$run/pid")"
}

case ${1:-} in
start) start ;;
freeze) signal STOP && say "frozen" ;;
thaw) signal CONT && say "thawed" ;;
restart) restart ;;
stop) stop ;;
status) listening "$port" ;;
owned) [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null ;;
fetch) fetch ;;
*) echo "usage: $0 start|restart|stop|status|owned|freeze|thaw|fetch" >&2; exit 2 ;;
esac
