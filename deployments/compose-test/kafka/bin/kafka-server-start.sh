#!/usr/bin/env bash
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1g -Xms1g}
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
