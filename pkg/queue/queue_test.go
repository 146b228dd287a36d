package queue_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/queue"
)

type testBundle struct {
	cfg   queue.Config
	queue *queue.Kafka
	ctx   context.Context
}

func setup(t *testing.T, partitions int) *testBundle {
	t.Helper()
	cfg := testenv.Queue(t)
	cfg.Partitions = partitions
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	q := queue.New(cfg, testenv.Logger(t))
	t.Cleanup(func() { q.Close() })
	if err := q.EnsureTopic(ctx); err != nil {
		t.Fatal(err)
	}
	return &testBundle{cfg: cfg, queue: q, ctx: ctx}
}

func TestKafka(t *testing.T) {
	t.Parallel()

	t.Run("CreatesTheTopicWithItsPartitionsOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 4)
		if err := b.queue.EnsureTopic(b.ctx); err != nil {
			t.Fatalf("second EnsureTopic = %v, want nil", err)
		}
		client := &kafka.Client{Addr: kafka.TCP(b.cfg.Brokers...), Transport: testenv.KafkaTransport(t)}
		meta, err := client.Metadata(b.ctx, &kafka.MetadataRequest{Topics: []string{b.cfg.Topic}})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(meta.Topics[0].Partitions); got != b.cfg.Partitions {
			t.Fatalf("partitions = %d, want %d", got, b.cfg.Partitions)
		}
	})

	t.Run("DeliversPublishedJobsToTheGroup", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 4)
		want := job.Job{RequestID: testenv.Unique(), A: 3, B: 30, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := b.queue.Publish(b.ctx, want); err != nil {
			t.Fatal(err)
		}
		c := b.queue.Consumer(job.Light)
		defer c.Close()
		m, err := c.Fetch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Job != want {
			t.Fatalf("fetched %+v, want %+v", m.Job, want)
		}
		if err := c.Commit(b.ctx, m); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ResumesAfterTheLastCommit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1)
		first := job.Job{RequestID: "first", A: 1, B: 2}
		second := job.Job{RequestID: "second", A: 1, B: 3}
		for _, j := range []job.Job{first, second} {
			if err := b.queue.Publish(b.ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		c := b.queue.Consumer(job.Light)
		m, err := c.Fetch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Commit(b.ctx, m); err != nil {
			t.Fatal(err)
		}
		c.Close()

		// A new member sees everything not yet committed on that partition.
		c = b.queue.Consumer(job.Light)
		defer c.Close()
		m2, err := c.Fetch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m2.Job.RequestID != "second" {
			t.Fatalf("fetched %q, want the uncommitted job \"second\"", m2.Job.RequestID)
		}
	})
}

// TestKafkaGenerations: a member that finishes a job after the group
// rebalanced must not move the partition's offset back.
func TestKafkaGenerations(t *testing.T) {
	t.Parallel()

	t.Run("ALateCommitFromAnEndedGenerationIsDropped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1)
		for _, id := range []string{"j0", "j1", "j2"} {
			if err := b.queue.Publish(b.ctx, job.Job{RequestID: id, A: 1, B: 2}); err != nil {
				t.Fatal(err)
			}
		}
		c1 := b.queue.Consumer(job.Light)
		defer c1.Close()
		late, err := c1.Fetch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		c2 := b.queue.Consumer(job.Light) // joining ends late's generation
		defer c2.Close()
		// Whoever owns the partition now reads and commits everything.
		ctx, stop := context.WithCancel(b.ctx)
		defer stop()
		for _, c := range []queue.Consumer{c1, c2} {
			go func() {
				for {
					m, err := c.Fetch(ctx)
					if err != nil {
						return
					}
					c.Commit(ctx, m)
				}
			}()
		}
		lagOf := func() int64 {
			lag, err := b.queue.Lag(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return lag.Total()
		}
		for lagOf() != 0 {
			select {
			case <-b.ctx.Done():
				t.Fatal("the group never committed the three jobs")
			case <-time.After(100 * time.Millisecond):
			}
		}
		stop()
		if err := c1.Commit(b.ctx, late); err != nil {
			t.Fatal(err)
		}
		c1.Close() // sends what it was asked
		c2.Close()
		if n := lagOf(); n != 0 {
			t.Fatalf("lag after a late commit of offset %d = %d, want 0: the offset moved back", late.Offset, n)
		}
	})
}

// TestKafkaBadMessages: what is not a job is flagged and can be dead-lettered.
func TestKafkaBadMessages(t *testing.T) {
	t.Parallel()

	t.Run("FlagsMessagesThatAreNotJobs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 4)
		w := &kafka.Writer{Addr: kafka.TCP(b.cfg.Brokers...), Topic: b.cfg.Topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: testenv.KafkaTransport(t)}
		defer w.Close()
		if err := w.WriteMessages(b.ctx, kafka.Message{Value: []byte("not json")}); err != nil {
			t.Fatal(err)
		}
		c := b.queue.Consumer(job.Light)
		defer c.Close()
		m, err := c.Fetch(b.ctx)
		if !errors.Is(err, queue.ErrUndecodable) {
			t.Fatalf("Fetch = %v, want ErrUndecodable", err)
		}
		if err := c.Commit(b.ctx, m); err != nil {
			t.Fatalf("committing past a bad message = %v", err)
		}
	})

	t.Run("DeadLettersAMessageWithTheReasonInItsHeaders", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1)
		w := &kafka.Writer{Addr: kafka.TCP(b.cfg.Brokers...), Topic: b.cfg.Topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: testenv.KafkaTransport(t)}
		defer w.Close()
		if err := w.WriteMessages(b.ctx, kafka.Message{Key: []byte("k1"), Value: []byte("{oops")}); err != nil {
			t.Fatal(err)
		}
		c := b.queue.Consumer(job.Light)
		defer c.Close()
		m, _ := c.Fetch(b.ctx)
		if err := c.DeadLetter(b.ctx, m, "not a job"); err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.cfg.Brokers, Topic: b.cfg.DLQTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		dead, err := r.ReadMessage(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for _, h := range dead.Headers {
			headers[h.Key] = string(h.Value)
		}
		if string(dead.Value) != "{oops" || string(dead.Key) != "k1" || headers["x-error"] != "not a job" ||
			headers["x-source-topic"] != b.cfg.Topic || headers["x-source-offset"] != "0" {
			t.Fatalf("dead letter = %q %q %v", dead.Key, dead.Value, headers)
		}
	})
}

// TestKafkaLag: the lag the janitor and the backlog bound read.
func TestKafkaLag(t *testing.T) {
	t.Parallel()

	t.Run("MeasuresLagPerPartitionAndKnowsWhereEachJobGoes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 6)
		// Configured for fewer partitions than the topic has: lag must
		// follow the topic.
		cfg := b.cfg
		cfg.Partitions = 4
		q := queue.New(cfg, testenv.Logger(t))
		defer q.Close()
		ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		var jobs []job.Job
		for _, id := range ids {
			jobs = append(jobs, job.Job{RequestID: id, A: 1, B: 2})
		}
		for i, err := range q.PublishAll(b.ctx, jobs) { // one batch
			if err != nil {
				t.Fatalf("publish %s: %v", ids[i], err)
			}
		}
		heavy := job.Job{RequestID: "heavy", A: 1, B: 2, Lane: job.Heavy}
		if err := q.Publish(b.ctx, heavy); err != nil {
			t.Fatal(err)
		}
		lag, err := q.Lag(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		light := lag.ByLane[job.Light]
		if len(light) != 6 || lag.Total() != int64(len(ids))+1 || lag.Of(heavy) != 1 {
			t.Fatalf("lag = %v, want 6 light partitions holding %d jobs and the heavy job in its own lane", lag.ByLane, len(ids))
		}
		c := q.Consumer(job.Light)
		defer c.Close()
		where, first := map[int]int64{}, queue.Message{}
		for i := range ids {
			m, err := c.Fetch(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			where[m.Partition]++
			if lag.Of(m.Job) != light[m.Partition] {
				t.Fatalf("Of(%s) = %d, but it went to partition %d with lag %d", m.Key, lag.Of(m.Job), m.Partition, light[m.Partition])
			}
			if i == 0 {
				first = m
			}
		}
		for p, n := range where {
			if light[p] != n {
				t.Fatalf("lag = %v, want %v (where the jobs went)", light, where)
			}
		}
		if err := c.Commit(b.ctx, first); err != nil {
			t.Fatal(err)
		}
		c.Close() // commits go out in the background; Close flushes them
		if lag, _ := q.Lag(b.ctx); lag.ByLane[job.Light][first.Partition] != where[first.Partition]-1 {
			t.Fatalf("lag of partition %d after one commit = %d, want %d", first.Partition, lag.ByLane[job.Light][first.Partition], where[first.Partition]-1)
		}
	})
}

// TestKafkaBatchSharesAPartition: jobs accepted together go to one
// partition, the one their lag is read from.
func TestKafkaBatchSharesAPartition(t *testing.T) {
	t.Parallel()
	b := setup(t, 6)
	var jobs []job.Job
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		jobs = append(jobs, job.Job{RequestID: id, A: 1, B: 2, Batch: "a"})
	}
	for i, err := range b.queue.PublishAll(b.ctx, jobs) {
		if err != nil {
			t.Fatalf("publish %s: %v", jobs[i].RequestID, err)
		}
	}
	lag, err := b.queue.Lag(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := b.queue.Consumer(job.Light)
	defer c.Close()
	for range jobs {
		m, err := c.Fetch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := lag.ByLane[job.Light][m.Partition]; n != int64(len(jobs)) || lag.Of(m.Job) != n {
			t.Fatalf("%s went to partition %d with lag %d, Of says %d; want all %d in one partition", m.Key, m.Partition, n, lag.Of(m.Job), len(jobs))
		}
	}
}

// TestKafkaNamesAndMissingTopics: what a message says of its request, and a
// topic that is not there.
func TestKafkaNamesAndMissingTopics(t *testing.T) {
	t.Parallel()

	t.Run("NamesTheRequestOfAMessageThatIsNotAJob", func(t *testing.T) {
		t.Parallel()
		id := "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"
		for _, c := range []struct {
			m    queue.Message
			want string
		}{
			{queue.Message{Job: job.Job{RequestID: "job-id"}, Key: id}, "job-id"},
			{queue.Message{Key: id}, id},
			{queue.Message{Key: "not-an-id"}, ""},
		} {
			if got := c.m.RequestID(); got != c.want {
				t.Errorf("RequestID of %+v = %q, want %q", c.m, got, c.want)
			}
		}
	})

	t.Run("FailsToPublishToAMissingTopic", func(t *testing.T) {
		t.Parallel()
		q := queue.New(testenv.Queue(t), testenv.Logger(t)) // no EnsureTopic: the topic does not exist
		defer q.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := q.Publish(ctx, job.Job{RequestID: "x", A: 1, B: 2}); err == nil {
			t.Fatal("Publish to a missing topic succeeded; topics must not be auto-created")
		}
		if err := q.Ping(ctx); err == nil {
			t.Fatal("Ping succeeded for a missing topic")
		}
	})
}

// TestKafkaSecured publishes, consumes, commits, dead-letters and reads the
// lag over TLS with each SASL mechanism, on the broker's SASL_SSL listener.
func TestKafkaSecured(t *testing.T) {
	t.Parallel()
	for _, mechanism := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mechanism, func(t *testing.T) {
			t.Parallel()
			cfg, _ := testenv.KafkaSASL(t, mechanism)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			q := queue.New(cfg, testenv.Logger(t))
			defer q.Close()
			if err := q.EnsureTopic(ctx); err != nil {
				t.Fatal(err)
			}
			if err := q.Publish(ctx, job.Job{RequestID: "j1", A: 1, B: 10}); err != nil {
				t.Fatal(err)
			}
			c := q.Consumer(job.Light)
			defer c.Close()
			m, err := c.Fetch(ctx)
			if err != nil || m.Job.RequestID != "j1" {
				t.Fatalf("Fetch = %+v, %v", m.Job, err)
			}
			if err := c.DeadLetter(ctx, m, "test"); err != nil {
				t.Fatal(err)
			}
			if err := c.Commit(ctx, m); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Lag(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKafkaMisconfigured: what the broker will never accept ends
// EnsureTopic at once, naming the keys to fix, instead of a retry loop.
func TestKafkaMisconfigured(t *testing.T) {
	t.Parallel()
	good, settings := testenv.KafkaSASL(t, "SCRAM-SHA-256")
	otherCA := settings.TLS
	otherCA.CAFile = filepath.Join(testenv.Certs(t), "other-ca.pem")
	wrongPassword, _ := scram.Mechanism(scram.SHA256, "sumprimes", "guess")
	for _, c := range []struct {
		name   string
		change func(*queue.Config)
		names  string
	}{
		{"WrongPassword", func(c *queue.Config) { c.SASL = wrongPassword }, "kafka.sasl.password"},
		{"UnknownCA", func(c *queue.Config) { c.TLS, _ = otherCA.Config() }, "kafka.tls.ca_file"},
		{"PlaintextOnTheSASLSSLListener", func(c *queue.Config) { c.TLS, c.SASL = nil, nil }, "kafka.tls.enabled"},
		{"TLSOnThePlaintextListener", func(c *queue.Config) { c.Brokers = testenv.KafkaBrokers(t) }, "kafka.tls.enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			c.change(&cfg)
			q := queue.New(cfg, testenv.Logger(t))
			defer q.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound, not a timing under test
			defer cancel()
			err := q.EnsureTopic(ctx)
			if !errors.Is(err, queue.ErrMisconfigured) || !strings.Contains(err.Error(), c.names) || ctx.Err() != nil {
				t.Fatalf("EnsureTopic = %v, want ErrMisconfigured naming %s, at once", err, c.names)
			}
		})
	}
}
