package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/config"
)

// TestPoisonMessages writes straight to the real job topic, past the API,
// as an attacker or a buggy producer would, while a worker runs: nothing
// there may be computed as a job unless the API accepted it, and nothing
// there may change a record the API keeps.
func TestPoisonMessages(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	url := startAPI(t, cfg)
	startWorker(t, cfg)

	real := submit(t, url, 1, 1000)
	await(t, url, real)
	before := get(t, url+"/sumPrime/"+real).body

	write := func(partition int, key, value string) { writeRaw(t, cfg, partition, key, value) }
	job := func(id string, a, b uint64) string { return fmt.Sprintf(`{"requestId":%q,"a":%d,"b":%d}`, id, a, b) }
	var neverAccepted []string
	for p := range cfg.Kafka.Partitions { // in every partition, ahead of whatever comes next
		huge, over, forged := uuid.NewString(), uuid.NewString(), uuid.NewString()
		neverAccepted = append(neverAccepted, huge, over, forged)
		write(p, huge, job(huge, 1, 1<<64-1)) // some 20 minutes: past limits.max_cost
		write(p, over, job(over, 5, 4))       // past the limits: a > b
		write(p, forged, job(forged, 1, 100)) // within limits, but never accepted
		write(p, real, "not a job")           // garbage keyed by a real job's id
		write(p, real, job(real, 1, 5000))    // names the real job, asks for another range
	}

	t.Run("JobsBehindThemFinish", func(t *testing.T) {
		for range cfg.Kafka.Partitions {
			if rec := await(t, url, submit(t, url, 1, 2000)); rec.Status != "FINISHED" || *rec.Payload != "277050" {
				t.Fatalf("record = %+v, want FINISHED 277050", rec)
			}
		}
	})

	t.Run("NoneOfThemIsComputed", func(t *testing.T) {
		for _, id := range neverAccepted {
			if r := get(t, url+"/sumPrime/"+id); r.status != http.StatusNotFound {
				t.Errorf("GET %s = %d %s, want 404: never accepted, never computed", id, r.status, r.body)
			}
		}
	})

	t.Run("TheRealJobsRecordStandsByteForByte", func(t *testing.T) {
		if after := get(t, url+"/sumPrime/"+real).body; string(after) != string(before) {
			t.Fatalf("record changed:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("TheOnesPastTheLimitsAreDeadLettered", func(t *testing.T) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.DLQTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		limits := 0
		for range 4 * cfg.Kafka.Partitions { // huge, over, garbage and the contradiction, per partition
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("dead letters: %v", err)
			}
			for _, h := range m.Headers {
				if h.Key == "x-error" && len(h.Value) > 0 && (string(m.Key) != real) {
					limits++
				}
			}
		}
		if limits != 2*cfg.Kafka.Partitions {
			t.Fatalf("%d dead letters past the limits, want %d", limits, 2*cfg.Kafka.Partitions)
		}
	})
}

// writeRaw writes one message straight to a partition of the job topic,
// past the API.
func writeRaw(t *testing.T, cfg config.Config, partition int, key, value string) {
	t.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(cfg.Kafka.Brokers...), Topic: cfg.Kafka.Topic, Transport: testenv.KafkaTransport(t),
		Balancer:     kafka.BalancerFunc(func(_ kafka.Message, _ ...int) int { return partition }),
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
	}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte(key), Value: []byte(value)}); err != nil {
		t.Fatal(err)
	}
}
