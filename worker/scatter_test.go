package worker_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
	"github.com/sumprimes/sumprimes/worker"
)

// lanes are in-process queues, one per lane, and the task queue the worker
// publishes to: a published task is delivered copies times.
type lanes struct {
	mu        sync.Mutex
	offsets   map[job.Lane]int64
	queues    map[job.Lane]chan queue.Message
	copies    int
	published chan struct{} // a value after each PublishAll
}

func newLanes(copies int) *lanes {
	l := &lanes{offsets: map[job.Lane]int64{}, queues: map[job.Lane]chan queue.Message{}, copies: copies, published: make(chan struct{}, 16)}
	for _, lane := range job.Queues {
		l.queues[lane] = make(chan queue.Message, 1024)
	}
	return l
}

func (l *lanes) send(lane job.Lane, j job.Job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.offsets[lane]++
	l.queues[lane] <- queue.Message{Job: j, Offset: l.offsets[lane]}
}

func (l *lanes) PublishAll(_ context.Context, jobs []job.Job) []error {
	for _, j := range jobs {
		for range l.copies {
			l.send(job.Tasks, j)
		}
	}
	l.published <- struct{}{}
	return make([]error, len(jobs))
}

// last returns the offset of lane's last message.
func (l *lanes) last(lane job.Lane) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.offsets[lane]
}

// countingStore counts the parts stored.
type countingStore struct {
	*store.Memory
	parts atomic.Int64
}

func (s *countingStore) PutPart(ctx context.Context, id string, index int, part []byte, estimate time.Duration) (store.TaskCount, error) {
	s.parts.Add(1)
	return s.Memory.PutPart(ctx, id, index, part, estimate)
}

// laneConsumer fetches from one of lanes' queues; commits, when set,
// hears each offset committed.
type laneConsumer struct {
	msgs    chan queue.Message
	commits chan int64
}

func (c laneConsumer) Fetch(ctx context.Context) (queue.Message, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-ctx.Done():
		return queue.Message{}, ctx.Err()
	}
}
func (c laneConsumer) Commit(_ context.Context, m queue.Message) error {
	if c.commits != nil {
		c.commits <- m.Offset
	}
	return nil
}

func (laneConsumer) DeadLetter(context.Context, queue.Message, string) error { return nil }
func (laneConsumer) Close() error                                            { return nil }

// scatterSetup runs a worker consuming the heavy lane and the tasks that
// scatters every job into tasks of about taskCost; commits, when set,
// hears the task lane's commits, and cancellations tells it of cancelled
// jobs.
func scatterSetup(t *testing.T, l *lanes, s worker.Store, taskCost time.Duration, commits chan int64, cancellations chan string) {
	w := worker.New(worker.Config{
		Store: s,
		NewConsumer: func(lane job.Lane) queue.Consumer {
			if lane == job.Tasks {
				return laneConsumer{l.queues[lane], commits}
			}
			return laneConsumer{l.queues[lane], nil}
		},
		Cancellations: cancellations,
		Lanes:         []job.Lane{job.Heavy, job.Tasks},
		Owner:         "worker-test",
		Limits:        defaultLimits,
		LeaseTTL:      15 * time.Second,
		Concurrency:   1,
		Threads:       2, // two task slots
		Scatter:       worker.Scatter{Threshold: time.Nanosecond, TaskCost: taskCost},
		Tasks:         l,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// awaitFinal waits for id's record to be final, woken by the store's
// announcements.
func awaitFinal(t *testing.T, s worker.Store, changes <-chan store.Change, id string) job.Record {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if rec, err := s.Get(context.Background(), id); err == nil && rec.Status.Final() {
			return rec
		}
		select {
		case <-changes:
		case <-deadline:
			rec, _ := s.Get(context.Background(), id)
			t.Fatalf("job %s not final within a minute: %+v", id, rec)
		}
	}
}

// TestScatterGather: a job is cut into tasks, each task delivered twice
// (as after a crash before its commit), and the job's record is the exact
// sum with every task counted once; cancelling a scattered job stops its
// tasks; a task that can never be computed fails its job with the reason.
func TestScatterGather(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b uint64
		want string
	}{
		{1, 1e11, "201467077743744681014"},
		{1e11 + 1, 1e12, "18234121474806961230363"}, // S(10^12) − S(10^11): pieces of both prefixes
	} {
		l, s := newLanes(2), store.NewMemory(time.Minute, nil)
		changes := s.Changes(t.Context())
		plan := primes.PlanRange(c.a, c.b)
		scatterSetup(t, l, s, plan.Estimate/12, nil, nil)
		j := job.Job{RequestID: "big", A: c.a, B: c.b, Lane: job.Heavy}
		j.Generation, _ = s.Generation(t.Context())
		if err := s.Create(t.Context(), job.Pending(j)); err != nil {
			t.Fatal(err)
		}
		l.send(job.Heavy, j)
		rec := awaitFinal(t, s, changes, "big")
		if rec.Status != job.Finished || *rec.Payload != c.want {
			t.Fatalf("[%d, %d]: %+v, want FINISHED %s", c.a, c.b, rec, c.want)
		}
		if rec.Tasks < 8 || rec.TasksDone != rec.Tasks || rec.Task != nil {
			t.Fatalf("[%d, %d]: %d of %d tasks done (task %v), want about 12 of 12", c.a, c.b, rec.TasksDone, rec.Tasks, rec.Task)
		}
	}

	t.Run("CancellingStopsTheTasks", func(t *testing.T) {
		l, s := newLanes(1), &countingStore{Memory: store.NewMemory(time.Minute, nil)}
		changes := s.Changes(t.Context())
		commits, cancellations := make(chan int64, 1024), make(chan string, 1)
		plan := primes.PlanRange(1, 1e14)
		scatterSetup(t, l, s, plan.Estimate/200, commits, cancellations)
		j := job.Job{RequestID: "c", A: 1, B: 1e14, Lane: job.Heavy}
		j.Generation, _ = s.Generation(t.Context())
		_ = s.Create(t.Context(), job.Pending(j))
		l.send(job.Heavy, j)
		<-l.published
		first := <-commits // the first task done
		if _, err := s.Cancel(t.Context(), "c"); err != nil {
			t.Fatal(err)
		}
		cancellations <- "c"
		rec := awaitFinal(t, s, changes, "c")
		for last := first; last < l.last(job.Tasks); last = <-commits {
		}
		n := int(s.parts.Load())
		t.Logf("%d parts stored of %d tasks", n, l.last(job.Tasks))
		if rec.Status != job.Cancelled || n >= 150 {
			t.Fatalf("record %s; %d parts stored of some 200 after cancelling at the first: want the rest skipped or stopped", rec.Status, n)
		}
	})

	t.Run("PoisonTaskFailsTheJob", func(t *testing.T) {
		l, s := newLanes(1), store.NewMemory(time.Minute, nil)
		changes := s.Changes(t.Context())
		scatterSetup(t, l, s, time.Second, nil, nil)
		j := job.Job{RequestID: "j", A: 1, B: 1e11, Lane: job.Heavy}
		j.Generation, _ = s.Generation(t.Context())
		_ = s.Create(t.Context(), job.Pending(j))
		_, _, _ = s.Scatter(t.Context(), "j", 2, time.Second)
		bad := j
		bad.Task = &job.Task{Index: 1, Count: 2, Piece: primes.Piece{Kind: primes.HardPiece, X: 1e11, Hi: 1 << 40}}
		l.send(job.Tasks, bad)
		rec := awaitFinal(t, s, changes, "j")
		if rec.Status != job.Failed || rec.Error == "" || rec.Task != nil {
			t.Fatalf("record %+v, want FAILED with the task's reason", rec)
		}
	})
}
