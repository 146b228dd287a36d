package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
	"github.com/sumprimes/sumprimes/worker"
)

// events is the shared, ordered log of what the fakes saw.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
}

func (e *events) snapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
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

// flakyStore fails its first failures Puts, then records them.
type flakyStore struct {
	store.Store
	mu       sync.Mutex
	failures int
	gate     chan struct{} // when not nil, Put waits for it to close
	records  map[string]job.Record
	events   *events
}

func (s *flakyStore) Put(_ context.Context, r job.Record) error {
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
	s.records[r.RequestID] = r
	s.events.add("put %s %s", r.RequestID, r.Status)
	return nil
}

func (s *flakyStore) Lease(context.Context, string, string, time.Duration) error { return nil }

func (s *flakyStore) SetProgress(_ context.Context, id string, f float64) error {
	s.events.add("progress %s", id)
	return nil
}

func (s *flakyStore) Get(_ context.Context, id string) (job.Record, error) {
	if r, ok := s.get(id); ok {
		return r, nil
	}
	return job.Record{}, store.ErrNotFound
}

func (s *flakyStore) get(id string) (job.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[id]
	return r, ok
}

type testBundle struct {
	consumer *fakeConsumer
	store    *flakyStore
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
	ev := &events{}
	b := &testBundle{
		consumer: &fakeConsumer{msgs: make(chan fetched, 16), taken: make(chan struct{}, 16), events: ev},
		store:    &flakyStore{failures: storeFailures, gate: gate, records: map[string]job.Record{}, events: ev},
		events:   ev,
		done:     make(chan struct{}),
	}
	w := worker.New(worker.Config{
		Store:         b.store,
		NewConsumer:   func() queue.Consumer { return b.consumer },
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
	testenv.Eventually(t, 10*time.Second, event, func() bool {
		for _, e := range b.events.snapshot() {
			if e == event {
				return true
			}
		}
		return false
	})
}

func TestWorker(t *testing.T) {
	t.Parallel()

	t.Run("StoresTheExactSumThenCommits", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		b.send(7, job.Job{RequestID: "j1", A: 1, B: 1_000_000})
		b.waitFor(t, "commit 7")
		rec, _ := b.store.get("j1")
		if rec.Status != job.Finished || *rec.Payload != "37550402023" || rec.FinishedAt == nil {
			t.Fatalf("record = %+v, want FINISHED 37550402023", rec)
		}
		if got := b.events.snapshot(); got[0] != "put j1 FINISHED" || got[1] != "commit 7" {
			t.Fatalf("events = %v, want the put before the commit", got)
		}
	})

	t.Run("RetriesTheStoreWithoutCommittingMeanwhile", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 3)
		b.send(1, job.Job{RequestID: "j1", A: 1, B: 10})
		b.waitFor(t, "commit 1")
		want := []string{"put failed", "put failed", "put failed", "put j1 FINISHED", "commit 1"}
		if got := b.events.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
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
		if rec, _ := b.store.get(id); rec.Status != job.Failed || rec.Error == "" {
			t.Fatalf("record = %+v, want FAILED with the reason", rec)
		}
	})

	t.Run("DeadLettersJobsTheEngineCannotTakeAndRecordsThemFailed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		b.send(1, job.Job{RequestID: "big", A: 1, B: primes.MaxN + 1})
		b.waitFor(t, "commit 1")
		if rec, _ := b.store.get("big"); rec.Status != job.Failed || rec.Error == "" || rec.Payload != nil {
			t.Fatalf("record = %+v, want FAILED with an error", rec)
		}
		if got := b.events.snapshot(); fmt.Sprint(got) != "[dlq 1 put big FAILED commit 1]" {
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
		if got := b.events.snapshot(); fmt.Sprint(got) != "[put j5 FINISHED commit 5 close]" {
			t.Fatalf("events = %v, want the job stored and committed before close", got)
		}
	})

	t.Run("StopsAJobItsClientCancelsAndMovesOn", func(t *testing.T) {
		t.Parallel()
		cancellations := make(chan string)
		b := setupFull(t, 0, nil, time.Minute, cancellations)
		b.send(8, job.Job{RequestID: "long", A: 1, B: 1e13}) // minutes of work
		<-b.consumer.taken
		testenv.Eventually(t, 10*time.Second, "the job to be cancelled", func() bool {
			select {
			case cancellations <- "long":
			default:
			}
			for _, e := range b.events.snapshot() {
				if e == "commit 8" {
					return true
				}
			}
			return false
		})
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
		b.store.records["gone"] = job.Pending(j).Cancelled(time.Now())
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
		got := b.events.snapshot()
		if len(got) != 1 || got[0] != "close" {
			t.Fatalf("events = %v, want only close: no record and no commit for abandoned work", got)
		}
	})
}
