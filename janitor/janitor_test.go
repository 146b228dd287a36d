package janitor

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// fakeQueue records what is published and reports the lag it is told.
type fakeQueue struct {
	mu        sync.Mutex
	lag       map[int]int64
	published []job.Job
}

func (q *fakeQueue) Publish(_ context.Context, j job.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.published = append(q.published, j)
	return nil
}

func (q *fakeQueue) Lag(context.Context) (map[int]int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lag, nil
}

func (q *fakeQueue) PartitionOf(string) int { return 0 }

type testBundle struct {
	janitor *Janitor
	store   *store.Redis
	queue   *fakeQueue
	ctx     context.Context
	clock   time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{
		store: store.NewRedis(testenv.Redis(t), "sumprimes-test:"+testenv.Unique()+":", 3*time.Minute),
		queue: &fakeQueue{lag: map[int]int64{}},
		ctx:   context.Background(),
		clock: time.Now(),
	}
	b.janitor = New(Config{
		Store: b.store, Queue: b.queue,
		Interval: 10 * time.Millisecond, StaleAfter: time.Minute, MaxAttempts: 2,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	b.janitor.now = func() time.Time { return b.clock }
	return b
}

// lost creates a pending job submitted an hour ago that no queue holds.
func (b *testBundle) lost(t *testing.T, id string) job.Job {
	t.Helper()
	j := job.Job{RequestID: id, A: 1, B: 100, SubmittedAt: b.clock.Add(-time.Hour)}
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

func TestJanitor(t *testing.T) {
	t.Parallel()

	t.Run("PublishesALostJobAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := b.lost(t, "id-1")
		b.pass(t)
		if len(b.queue.published) != 1 || b.queue.published[0].RequestID != j.RequestID || b.queue.published[0].B != 100 {
			t.Fatalf("published %+v, want the lost job", b.queue.published)
		}
		b.pass(t) // seen alive just now: not stale again yet
		if len(b.queue.published) != 1 {
			t.Fatalf("published %d times within StaleAfter, want once", len(b.queue.published))
		}
	})

	t.Run("LeavesLeasedJobsAlone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.lost(t, "id-1")
		_ = b.store.Lease(b.ctx, "id-1", "worker", time.Minute)
		b.pass(t)
		if len(b.queue.published) != 0 || b.janitor.Counts().Running != 1 {
			t.Fatalf("published %v, counts %+v; want a running job left alone", b.queue.published, b.janitor.Counts())
		}
	})

	t.Run("LeavesJobsWaitingBehindABacklogAlone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.lost(t, "id-1")
		b.queue.lag[0] = 5
		b.pass(t)
		if len(b.queue.published) != 0 || b.janitor.Counts().Waiting != 1 {
			t.Fatalf("published %v, counts %+v; want a queued job left alone", b.queue.published, b.janitor.Counts())
		}
	})

	t.Run("RecordsAJobAsFailedAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.lost(t, "id-1")
		for range 3 {
			b.pass(t)
			b.clock = b.clock.Add(2 * time.Minute)
		}
		rec, err := b.store.Get(b.ctx, "id-1")
		if err != nil || rec.Status != job.Failed || rec.Error == "" {
			t.Fatalf("record = %+v, %v; want FAILED with a reason", rec, err)
		}
		if len(b.queue.published) != 2 {
			t.Fatalf("published %d times, want MaxAttempts (2)", len(b.queue.published))
		}
		if n, _ := b.store.Pending(b.ctx); n != 0 {
			t.Fatalf("%d still pending, want the index cleared", n)
		}
	})

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
		b.lost(t, "id-1")
		testenv.Redis(t).Del(b.ctx, b.store.Key("id-1"))
		b.pass(t)
		if n, _ := b.store.Pending(b.ctx); n != 0 || b.janitor.Counts().Pruned != 1 {
			t.Fatalf("pending %d, counts %+v; want the entry pruned", n, b.janitor.Counts())
		}
	})

	t.Run("LetsOneReplicaWorkAtATime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := New(b.janitor.cfg)
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
		id := "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"
		b.lost(t, id)
		c := &oneShot{msgs: make(chan queue.Message, 1), committed: make(chan int64, 1)}
		c.msgs <- queue.Message{Key: id, Offset: 7, Reason: "poison"}
		ctx, cancel := context.WithCancel(b.ctx)
		done := make(chan struct{})
		go func() { defer close(done); b.janitor.drain(ctx, c) }()
		if off := <-c.committed; off != 7 {
			t.Fatalf("committed %d, want 7", off)
		}
		cancel()
		<-done
		if rec, _ := b.store.Get(b.ctx, id); rec.Status != job.Failed || rec.Error != "poison" || rec.B != 100 {
			t.Fatalf("record = %+v, want FAILED with the dead letter's reason", rec)
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
