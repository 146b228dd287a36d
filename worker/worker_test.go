package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
	"github.com/sumprimes/sumprimes/worker"
)

// events is the shared, ordered log of what the fakes saw; each entry
// signals whoever waits for it.
type events struct {
	mu      sync.Mutex
	list    []string
	changed chan struct{} // closed and replaced at each entry
}

func newEvents() *events { return &events{changed: make(chan struct{})} }

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *events) snapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

// waitFor blocks until event is logged, woken by each new entry.
func (e *events) waitFor(t *testing.T, event string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		found, changed := slices.Contains(e.list, event), e.changed
		e.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %q within 10s; events: %v", event, e.snapshot())
		}
	}
}

// fakeConsumer hands out queued messages, then blocks until ctx ends.
type fakeConsumer struct {
	msgs   chan fetched
	taken  chan struct{} // one value per message handed out
	events *events
}

type fetched struct {
	msg queue.Message
	err error
}

func (c *fakeConsumer) Fetch(ctx context.Context) (queue.Message, error) {
	select {
	case f := <-c.msgs:
		c.taken <- struct{}{}
		return f.msg, f.err
	case <-ctx.Done():
		return queue.Message{}, ctx.Err()
	}
}

func (c *fakeConsumer) Commit(_ context.Context, m queue.Message) error {
	c.events.add("commit %d", m.Offset)
	return nil
}

func (c *fakeConsumer) Close() error { c.events.add("close"); return nil }

func (c *fakeConsumer) DeadLetter(_ context.Context, m queue.Message, _ string) error {
	c.events.add("dlq %d", m.Offset)
	return nil
}

// faultyStore is the in-memory store (held to Redis's rules by the store's
// conformance suite) logging what the worker writes; its first failures
// Puts fail, and with a gate each Put waits for the gate to close.
type faultyStore struct {
	*store.Memory
	mu       sync.Mutex
	failures int
	gate     chan struct{}
	events   *events
}

func (s *faultyStore) Put(ctx context.Context, r job.Record) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		s.events.add("put failed")
		return errors.New("redis unavailable")
	}
	err := s.Memory.Put(ctx, r)
	s.events.add("put %s %s", r.RequestID, r.Status)
	return err
}

func (s *faultyStore) Lease(ctx context.Context, id, owner string, ttl time.Duration) error {
	s.events.add("lease %s", id)
	return s.Memory.Lease(ctx, id, owner, ttl)
}

func (s *faultyStore) SetProgress(ctx context.Context, id string, f float64) error {
	s.events.add("progress %s", id)
	return s.Memory.SetProgress(ctx, id, f)
}

func (s *faultyStore) get(id string) job.Record {
	rec, _ := s.Memory.Get(context.Background(), id)
	return rec
}

type testBundle struct {
	consumer *fakeConsumer
	store    *faultyStore
	events   *events
	cancel   context.CancelFunc
	done     chan struct{}
}

func setup(t *testing.T, storeFailures int) *testBundle {
	return setupWith(t, storeFailures, nil, time.Minute)
}

// setupWith starts a worker whose store fails its first storeFailures
// writes and waits for gate, and which drains for drain at shutdown.
func setupWith(t *testing.T, storeFailures int, gate chan struct{}, drain time.Duration) *testBundle {
	return setupFull(t, storeFailures, gate, drain, nil)
}

func setupFull(t *testing.T, storeFailures int, gate chan struct{}, drain time.Duration, cancellations chan string) *testBundle {
	t.Helper()
	ev := newEvents()
	b := &testBundle{
		consumer: &fakeConsumer{msgs: make(chan fetched, 16), taken: make(chan struct{}, 16), events: ev},
		store:    &faultyStore{Memory: store.NewMemory(time.Minute, nil), failures: storeFailures, gate: gate, events: ev},
		events:   ev,
		done:     make(chan struct{}),
	}
	w := worker.New(worker.Config{
		Store:         b.store,
		NewConsumer:   func() queue.Consumer { return b.consumer },
		Owner:         "worker-test",
		LeaseTTL:      15 * time.Second,
		Concurrency:   1,
		Threads:       1,
		DrainTimeout:  drain,
		Cancellations: cancellations,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { defer close(b.done); _ = w.Run(ctx) }()
	t.Cleanup(b.stop)
	return b
}

func (b *testBundle) stop() {
	b.cancel()
	<-b.done
}

func (b *testBundle) send(offset int64, j job.Job) {
	b.consumer.msgs <- fetched{msg: queue.Message{Job: j, Offset: offset}}
}

func (b *testBundle) waitFor(t *testing.T, event string) {
	t.Helper()
	b.events.waitFor(t, event)
}

// withoutLeases drops the lease entries, which mark when a job starts.
func withoutLeases(events []string) []string {
	return slices.DeleteFunc(events, func(e string) bool { return strings.HasPrefix(e, "lease ") })
}

func TestWorker(t *testing.T) {
	t.Parallel()

	t.Run("StoresTheExactSumThenCommits", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		b.send(7, job.Job{RequestID: "j1", A: 1, B: 1_000_000})
		b.waitFor(t, "commit 7")
		rec := b.store.get("j1")
		if rec.Status != job.Finished || *rec.Payload != "37550402023" || rec.FinishedAt == nil {
			t.Fatalf("record = %+v, want FINISHED 37550402023", rec)
		}
		if got := withoutLeases(b.events.snapshot()); got[0] != "put j1 FINISHED" || got[1] != "commit 7" {
			t.Fatalf("events = %v, want the put before the commit", got)
		}
	})

	t.Run("RetriesTheStoreWithoutCommittingMeanwhile", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 3)
		b.send(1, job.Job{RequestID: "j1", A: 1, B: 10})
		b.waitFor(t, "commit 1")
		want := []string{"put failed", "put failed", "put failed", "put j1 FINISHED", "commit 1"}
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("events = %v, want %v", got, want)
		}
	})

	t.Run("DeadLettersMessagesThatAreNotJobsAndMovesOn", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		b.consumer.msgs <- fetched{msg: queue.Message{Offset: 3, Key: "not-an-id"}, err: fmt.Errorf("%w: garbage", queue.ErrUndecodable)}
		b.send(4, job.Job{RequestID: "j2", A: 2, B: 2})
		b.waitFor(t, "commit 4")
		if got := b.events.snapshot(); fmt.Sprint(got[:2]) != "[dlq 3 commit 3]" {
			t.Fatalf("events = %v, want the bad message dead-lettered, then committed", got)
		}
	})

	t.Run("RecordsAnUndecodableJobAsFailedWhenItsKeyNamesIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		id := "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"
		b.consumer.msgs <- fetched{msg: queue.Message{Offset: 3, Key: id}, err: fmt.Errorf("%w: garbage", queue.ErrUndecodable)}
		b.waitFor(t, "commit 3")
		if rec := b.store.get(id); rec.Status != job.Failed || rec.Error == "" {
			t.Fatalf("record = %+v, want FAILED with the reason", rec)
		}
	})

	t.Run("DeadLettersJobsTheEngineCannotTakeAndRecordsThemFailed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		b.send(1, job.Job{RequestID: "big", A: 1, B: primes.MaxN + 1})
		b.waitFor(t, "commit 1")
		if rec := b.store.get("big"); rec.Status != job.Failed || rec.Error == "" || rec.Payload != nil {
			t.Fatalf("record = %+v, want FAILED with an error", rec)
		}
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(got) != "[dlq 1 put big FAILED commit 1]" {
			t.Fatalf("events = %v", got)
		}
	})

	t.Run("FinishesJobsInFlightAtShutdownWithinTheDrainDeadline", func(t *testing.T) {
		t.Parallel()
		gate := make(chan struct{})
		b := setupWith(t, 0, gate, time.Minute)
		b.send(5, job.Job{RequestID: "j5", A: 1, B: 100})
		<-b.consumer.taken
		b.cancel() // shutdown begins while the result is being stored
		close(gate)
		<-b.done
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(got) != "[put j5 FINISHED commit 5 close]" {
			t.Fatalf("events = %v, want the job stored and committed before close", got)
		}
	})

	t.Run("StopsAJobItsClientCancelsAndMovesOn", func(t *testing.T) {
		t.Parallel()
		cancellations := make(chan string)
		b := setupFull(t, 0, nil, time.Minute, cancellations)
		b.send(8, job.Job{RequestID: "long", A: 1, B: 1e13}) // minutes of work
		b.waitFor(t, "lease long")                           // computing
		cancellations <- "long"
		b.waitFor(t, "commit 8")
		for _, e := range b.events.snapshot() {
			if strings.HasPrefix(e, "put") {
				t.Fatalf("events = %v: a cancelled job must not be stored", b.events.snapshot())
			}
		}
	})

	t.Run("SkipsJobsWhoseRecordIsAlreadyFinal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		j := job.Job{RequestID: "gone", A: 1, B: 1e13}
		_ = b.store.Memory.Put(context.Background(), job.Pending(j).Cancelled(time.Now()))
		b.send(2, j)
		b.waitFor(t, "commit 2")
		if got := b.events.snapshot(); fmt.Sprint(got) != "[commit 2]" {
			t.Fatalf("events = %v, want a commit without computing or storing", got)
		}
	})

	t.Run("AbandonsInFlightWorkUncommittedAfterTheDrainDeadline", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, 0, nil, 10*time.Millisecond)
		b.send(9, job.Job{RequestID: "long", A: 1, B: 1e12}) // far longer than this test
		<-b.consumer.taken
		b.stop()
		got := withoutLeases(b.events.snapshot())
		if len(got) != 1 || got[0] != "close" {
			t.Fatalf("events = %v, want only close: no record and no commit for abandoned work", got)
		}
	})
}
