#!/usr/bin/env bash
# kafka-run-class.sh CLASS ARGS...: as Kafka's own, with its JVM defaults.
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20} ${KAFKA_OPTS:-} \
	"-Dlog4j2.configurationFile=${KAFKA_LOG4J_CONFIG:-/opt/kafka/config/log4j2.yaml}" -cp '/opt/kafka/libs/*' "$@"
