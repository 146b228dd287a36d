package janitor

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

type testBundle struct {
	janitor *Janitor
	store   *store.Memory
	queue   *queue.Kafka
	broker  queue.Config
	ctx     context.Context
	clock   time.Time
}

// setup gives a janitor the in-memory store on its test clock, and a real
// queue on an in-process broker, where nothing consumes the jobs.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{broker: testenv.Broker(t), ctx: context.Background(), clock: time.Now()}
	b.store = store.NewMemory(3*time.Minute, func() time.Time { return b.clock })
	b.queue = queue.New(b.broker, testenv.Logger(t))
	t.Cleanup(func() { b.queue.Close() })
	if err := b.queue.EnsureTopic(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.janitor = New(Config{
		Store: b.store, Queue: b.queue, Owner: "janitor-" + testenv.Unique(),
		Interval: 10 * time.Millisecond, StaleAfter: time.Minute, MaxAttempts: 2,
		Log: testenv.Logger(t),
	})
	b.janitor.now = func() time.Time { return b.clock }
	return b
}

// lost creates a pending job submitted an hour ago that no queue holds.
func (b *testBundle) lost(t *testing.T, id string) job.Job {
	t.Helper()
	j := job.Job{RequestID: id, A: 1, B: 100, CreatedAt: b.clock.Add(-time.Hour)}
	if err := b.store.Create(b.ctx, job.Pending(j)); err != nil {
		t.Fatal(err)
	}
	return j
}

func (b *testBundle) pass(t *testing.T) {
	t.Helper()
	if err := b.janitor.Pass(b.ctx); err != nil {
		t.Fatal(err)
	}
}

// published returns how many jobs wait in the queue.
func (b *testBundle) published(t *testing.T) int64 {
	t.Helper()
	lag, err := b.queue.Lag(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return lag.Total()
}

// consumeAll commits the workers' group past everything published, as
// workers that took the jobs and then lost them would have.
func (b *testBundle) consumeAll(t *testing.T) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(b.broker.Brokers...), Transport: testenv.KafkaTransport(t)}
	var ends []kafka.OffsetRequest
	for p := range b.broker.Partitions {
		ends = append(ends, kafka.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(b.ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{b.broker.Topic: ends}})
	if err != nil {
		t.Fatal(err)
	}
	var commits []kafka.OffsetCommit
	for _, p := range resp.Topics[b.broker.Topic] {
		commits = append(commits, kafka.OffsetCommit{Partition: p.Partition, Offset: p.LastOffset})
	}
	committed, err := client.OffsetCommit(b.ctx, &kafka.OffsetCommitRequest{
		GroupID: b.broker.Group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{b.broker.Topic: commits},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range committed.Topics[b.broker.Topic] {
		if p.Error != nil {
			t.Fatalf("commit partition %d: %v", p.Partition, p.Error)
		}
	}
}

func TestJanitor(t *testing.T) {
	t.Parallel()

	t.Run("PublishesALostJobAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := b.lost(t, "id-1")
		b.pass(t)
		c := b.queue.Consumer(job.Light)
		m, err := c.Fetch(b.ctx)
		if err != nil || m.Job.RequestID != j.RequestID || m.Job.B != 100 {
			t.Fatalf("published %+v, %v; want the lost job", m.Job, err)
		}
		_ = c.Commit(b.ctx, m)
		c.Close() // flushes the commit
		b.pass(t) // seen alive just now: not stale again yet
		if n := b.published(t); n != 0 {
			t.Fatalf("published %d more times within StaleAfter, want none", n)
		}
	})

	t.Run("LeavesLeasedJobsAlone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.lost(t, "id-1")
		_, _, _ = b.store.Take(b.ctx, []string{"id-1"}, "worker", time.Minute)
		b.pass(t)
		if n := b.published(t); n != 0 || b.janitor.Counts().Running != 1 {
			t.Fatalf("published %d, counts %+v; want a running job left alone", n, b.janitor.Counts())
		}
	})

	t.Run("LeavesJobsWaitingBehindABacklogAlone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := b.lost(t, "id-1")
		if err := b.queue.Publish(b.ctx, j); err != nil { // in its partition, not yet consumed
			t.Fatal(err)
		}
		b.pass(t)
		if n := b.published(t); n != 1 || b.janitor.Counts().Waiting != 1 {
			t.Fatalf("%d in the queue, counts %+v; want the queued job left alone", n, b.janitor.Counts())
		}
	})

	t.Run("RecordsAJobAsFailedAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.lost(t, "id-1")
		for range 3 {
			b.pass(t)
			b.consumeAll(t)
			b.clock = b.clock.Add(2 * time.Minute)
		}
		rec, err := b.store.Get(b.ctx, "id-1")
		if err != nil || rec.Status != job.Failed || rec.Error == "" {
			t.Fatalf("record = %+v, %v; want FAILED with a reason", rec, err)
		}
		if c := b.janitor.Counts(); c.Republished != 2 {
			t.Fatalf("published %d times, want MaxAttempts (2)", c.Republished)
		}
		if n, _ := b.store.Pending(b.ctx); n != 0 {
			t.Fatalf("%d still pending, want the index cleared", n)
		}
	})
}

// TestJanitorNeverRaces: what the janitor leaves to others, and what it
// settles from dead letters.
func TestJanitorNeverRaces(t *testing.T) {
	t.Parallel()

	t.Run("NeverReplacesAResultThatArrivesLate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := b.lost(t, "id-1")
		b.pass(t)
		_ = b.store.Put(b.ctx, j.Finished("1060", time.Now())) // the worker finishes after all
		_ = b.store.Put(b.ctx, j.Failed("janitor gave up", time.Now()))
		if rec, _ := b.store.Get(b.ctx, "id-1"); rec.Status != job.Finished {
			t.Fatalf("status = %s, want FINISHED", rec.Status)
		}
	})

	t.Run("PrunesEntriesWhoseRecordIsGone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := job.Job{RequestID: "id-1", A: 1, B: 100, CreatedAt: b.clock.Add(-time.Hour)}
		_ = b.store.Put(b.ctx, j.Finished("1060", b.clock))
		_ = b.store.Create(b.ctx, job.Pending(j)) // refused, but listed again, as a retried Create leaves it
		b.clock = b.clock.Add(time.Hour)          // the final record expires: the entry names nothing
		b.pass(t)
		if n, _ := b.store.Pending(b.ctx); n != 0 || b.janitor.Counts().Pruned != 1 {
			t.Fatalf("pending %d, counts %+v; want the entry pruned", n, b.janitor.Counts())
		}
	})

	t.Run("LetsOneReplicaWorkAtATime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.janitor.cfg
		cfg.Owner = "another-replica"
		other := New(cfg)
		for range 3 {
			_ = b.janitor.tick(b.ctx)
			_ = other.tick(b.ctx)
		}
		if p1, p2 := b.janitor.Counts().Passes, other.Counts().Passes; p1 != 3 || p2 != 0 {
			t.Fatalf("passes %d and %d; want all by the first to take the lock", p1, p2)
		}
	})

	t.Run("DrainsDeadLettersIntoFailedRecords", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, other := "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", "6b1f4d5e-2a3c-4b7d-8e9f-0a1b2c3d4e5f"
		j := b.lost(t, id)
		b.lost(t, other)
		forged := j
		forged.RequestID, forged.B = other, 5
		c := &oneShot{msgs: make(chan queue.Message, 3), committed: make(chan int64, 3)}
		c.msgs <- queue.Message{Key: other, Offset: 5, Reason: "not a job"} // garbage keyed by a real id
		c.msgs <- queue.Message{Job: forged, Key: other, Offset: 6, Reason: "forged"}
		c.msgs <- queue.Message{Job: j, Key: id, Offset: 7, Reason: "poison"}
		ctx, cancel := context.WithCancel(b.ctx)
		done := make(chan struct{})
		go func() { defer close(done); b.janitor.drain(ctx, c) }()
		for want := int64(5); want <= 7; want++ {
			if off := <-c.committed; off != want {
				t.Fatalf("committed %d, want %d", off, want)
			}
		}
		cancel()
		<-done
		if rec, _ := b.store.Get(b.ctx, id); rec.Status != job.Failed || rec.Error != "poison" || rec.B != 100 {
			t.Fatalf("record = %+v, want FAILED with the dead letter's reason", rec)
		}
		if rec, _ := b.store.Get(b.ctx, other); rec.Status != job.InProgress {
			t.Fatalf("record = %+v, want it untouched by messages that only name it", rec)
		}
	})
}

// oneShot is a dead-letter consumer with a fixed set of messages.
type oneShot struct {
	msgs      chan queue.Message
	committed chan int64
}

func (c *oneShot) Fetch(ctx context.Context) (queue.Message, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-ctx.Done():
		return queue.Message{}, ctx.Err()
	}
}
func (c *oneShot) Commit(_ context.Context, m queue.Message) error {
	c.committed <- m.Offset
	return nil
}
func (c *oneShot) DeadLetter(context.Context, queue.Message, string) error { return nil }
func (c *oneShot) Close() error                                            { return nil }
