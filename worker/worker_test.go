package worker_test

import (
	"cmp"
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
// PutAlls fail, and with a gate each PutAll waits for the gate to close.
type faultyStore struct {
	*store.Memory
	mu       sync.Mutex
	failures int
	gate     chan struct{}
	events   *events
}

func (s *faultyStore) PutAll(ctx context.Context, recs []job.Record) ([]error, error) {
	if s.gate != nil {
		s.events.add("storing")
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		s.events.add("put failed")
		return nil, errors.New("redis unavailable")
	}
	errs, err := s.Memory.PutAll(ctx, recs)
	for _, r := range recs {
		s.events.add("put %s %s", r.RequestID, r.Status)
	}
	return errs, err
}

func (s *faultyStore) Take(ctx context.Context, ids []string, owner string, ttl time.Duration) ([]store.Found, string, error) {
	for _, id := range ids {
		s.events.add("lease %s", id)
	}
	return s.Memory.Take(ctx, ids, owner, ttl)
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

// options shape a test's worker; the zero value is a healthy store, a
// drain deadline of a minute and no cancellation channel.
type options struct {
	storeFailures int           // Puts that fail first
	gate          chan struct{} // when set, each Put waits for it to close
	drain         time.Duration // the drain deadline; 0 means a minute
	cancellations chan string   // announcements of cancelled jobs
	leaseTTL      time.Duration // 0 means 15 s
	limits        *job.Limits   // nil means the API's defaults
}

var defaultLimits = job.Limits{MaxB: 1e17, MaxCost: 2 * time.Minute}

func setup(t *testing.T, o options) *testBundle {
	t.Helper()
	ev := newEvents()
	b := &testBundle{
		consumer: &fakeConsumer{msgs: make(chan fetched, 16), taken: make(chan struct{}, 16), events: ev},
		store:    &faultyStore{Memory: store.NewMemory(time.Minute, nil), failures: o.storeFailures, gate: o.gate, events: ev},
		events:   ev,
		done:     make(chan struct{}),
	}
	limits := defaultLimits
	if o.limits != nil {
		limits = *o.limits
	}
	w := worker.New(worker.Config{
		Store:         b.store,
		NewConsumer:   func(job.Lane) queue.Consumer { return b.consumer },
		Lanes:         []job.Lane{job.Light},
		Owner:         "worker-test",
		Limits:        limits,
		LeaseTTL:      cmp.Or(o.leaseTTL, 15*time.Second),
		Concurrency:   1,
		Threads:       1,
		DrainTimeout:  cmp.Or(o.drain, time.Minute),
		Cancellations: o.cancellations,
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

// accept does what the API does before publishing: it writes the job's
// IN_PROGRESS record under the store's generation.
func (b *testBundle) accept(t *testing.T, j job.Job) job.Job {
	t.Helper()
	j.Generation, _ = b.store.Generation(context.Background())
	if err := b.store.Create(context.Background(), job.Pending(j)); err != nil {
		t.Fatal(err)
	}
	return j
}

// submit accepts j and puts it on the queue at offset.
func (b *testBundle) submit(t *testing.T, offset int64, j job.Job) {
	t.Helper()
	b.send(offset, b.accept(t, j))
}

// send puts a message on the queue as it is, accepted or not.
func (b *testBundle) send(offset int64, j job.Job) {
	b.consumer.msgs <- fetched{msg: queue.Message{Job: j, Offset: offset}}
}

func (b *testBundle) waitFor(t *testing.T, event string) {
	t.Helper()
	b.events.waitFor(t, event)
}

// isCommit tells commit entries: a commit past offset N covers the ones
// before it, so which of those are sent on their own depends on timing.
func isCommit(e string) bool { return strings.HasPrefix(e, "commit ") }

// withoutLeases drops the lease entries, which mark when a job starts.
func withoutLeases(events []string) []string {
	return slices.DeleteFunc(events, func(e string) bool { return strings.HasPrefix(e, "lease ") })
}

func TestWorker(t *testing.T) {
	t.Parallel()

	t.Run("StoresTheExactSumThenCommits", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		b.submit(t, 7, job.Job{RequestID: "j1", A: 1, B: 1_000_000})
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
		b := setup(t, options{storeFailures: 3})
		b.submit(t, 1, job.Job{RequestID: "j1", A: 1, B: 10})
		b.waitFor(t, "commit 1")
		want := []string{"put failed", "put failed", "put failed", "put j1 FINISHED", "commit 1"}
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("events = %v, want %v", got, want)
		}
	})

	t.Run("FinishesJobsInFlightAtShutdownWithinTheDrainDeadline", func(t *testing.T) {
		t.Parallel()
		gate := make(chan struct{})
		b := setup(t, options{gate: gate})
		b.submit(t, 5, job.Job{RequestID: "j5", A: 1, B: 100})
		b.waitFor(t, "storing")
		b.cancel() // shutdown begins while the result is being stored
		close(gate)
		<-b.done
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(got) != "[storing put j5 FINISHED commit 5 close]" {
			t.Fatalf("events = %v, want the job stored and committed before close", got)
		}
	})
}

// TestWorkerOverlapsJobs: jobs of one partition run side by side, and the
// commit waits for the oldest.
func TestWorkerOverlapsJobs(t *testing.T) {
	t.Parallel()
	cancellations := make(chan string)
	b := setup(t, options{cancellations: cancellations})
	b.submit(t, 1, job.Job{RequestID: "long", A: 1, B: 1e15}) // seconds of work, a minute under -race
	b.submit(t, 2, job.Job{RequestID: "short", A: 1, B: 10})
	b.waitFor(t, "put short FINISHED") // not stuck behind the long one
	if got := b.events.snapshot(); slices.Contains(got, "commit 2") {
		t.Fatalf("events = %v: offset 2 committed while offset 1 still runs", got)
	}
	_, _ = b.store.Cancel(context.Background(), "long")
	cancellations <- "long"
	b.waitFor(t, "commit 2") // both done: the commit moves past both
}

// TestWorkerStops: a job ends early when its client cancels it or the worker
// shuts down.
func TestWorkerStops(t *testing.T) {
	t.Parallel()

	t.Run("StopsAJobItsClientCancelsAndMovesOn", func(t *testing.T) {
		t.Parallel()
		cancellations := make(chan string)
		b := setup(t, options{cancellations: cancellations})
		b.submit(t, 8, job.Job{RequestID: "long", A: 1, B: 1e15}) // seconds of work, a minute under -race
		b.waitFor(t, "lease long")                                // computing
		cancellations <- "long"
		b.waitFor(t, "commit 8")
		for _, e := range b.events.snapshot() {
			if strings.HasPrefix(e, "put") {
				t.Fatalf("events = %v: a cancelled job must not be stored", b.events.snapshot())
			}
		}
	})

	t.Run("AbandonsInFlightWorkUncommittedAfterTheDrainDeadline", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{drain: 10 * time.Millisecond})
		b.submit(t, 9, job.Job{RequestID: "long", A: 1, B: 1e15}) // far longer than this test
		<-b.consumer.taken
		b.stop()
		got := withoutLeases(b.events.snapshot())
		if len(got) != 1 || got[0] != "close" {
			t.Fatalf("events = %v, want only close: no record and no commit for abandoned work", got)
		}
	})
}

// TestWorkerTrustsNoMessage: what reaches the topic without the API, or
// after the API withdrew it, is never computed as if it were a job.
func TestWorkerTrustsNoMessage(t *testing.T) {
	t.Parallel()

	t.Run("DeadLettersMessagesThatAreNotJobsAndMovesOn", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		b.consumer.msgs <- fetched{msg: queue.Message{Offset: 3, Key: "not-an-id"}, err: fmt.Errorf("%w: garbage", queue.ErrUndecodable)}
		b.submit(t, 4, job.Job{RequestID: "j2", A: 2, B: 2})
		b.waitFor(t, "commit 4")
		got := b.events.snapshot()
		if dlq, commit := slices.Index(got, "dlq 3"), slices.Index(got, "commit 4"); dlq < 0 || commit < dlq {
			t.Fatalf("events = %v, want the bad message dead-lettered, then committed past", got)
		}
	})

	t.Run("NeverFailsAJobForAGarbageMessageKeyedByItsID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		id := "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"
		b.accept(t, job.Job{RequestID: id, A: 1, B: 10})
		b.consumer.msgs <- fetched{msg: queue.Message{Offset: 3, Key: id}, err: fmt.Errorf("%w: garbage", queue.ErrUndecodable)}
		b.waitFor(t, "commit 3")
		if rec := b.store.get(id); rec.Status != job.InProgress {
			t.Fatalf("record = %+v, want it IN_PROGRESS still: garbage does not speak for the job", rec)
		}
	})

	t.Run("DeadLettersMessagesPastTheLimitsWithoutComputing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		b.send(1, job.Job{RequestID: "huge", A: 2, B: 1_000_000_000_000_000_000}) // straight onto the topic
		b.send(2, job.Job{RequestID: "over", A: 1, B: 100_000_000_000_000_001})   // within max_cost, but past max_b
		b.waitFor(t, "commit 2")
		if got := slices.Sorted(slices.Values(withoutLeases(b.events.snapshot()))); fmt.Sprint(slices.DeleteFunc(slices.Clone(got), isCommit)) != "[dlq 1 dlq 2]" {
			t.Fatalf("events = %v, want both dead-lettered, nothing computed or stored", got)
		}
	})
}

// TestWorkerComputesOnlyAcceptedJobs: a job is computed while its record says
// the API accepted it and no one ended it, or a wipe lost that record.
func TestWorkerComputesOnlyAcceptedJobs(t *testing.T) {
	t.Parallel()

	t.Run("SkipsJobsTheAPINeverAcceptedOrWithdrew", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		gen, _ := b.store.Generation(context.Background())
		b.send(1, job.Job{RequestID: "forged", A: 1, B: 10, Generation: gen})
		withdrawn := b.accept(t, job.Job{RequestID: "withdrawn", A: 1, B: 10})
		_, _ = b.store.Reject(context.Background(), "withdrawn") // the API answered 503 not-accepted
		b.send(2, withdrawn)
		b.waitFor(t, "commit 2")
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(slices.DeleteFunc(slices.Clone(got), isCommit)) != "[]" || !slices.Contains(got, "commit 2") {
			t.Fatalf("events = %v, want both committed without computing", got)
		}
	})

	t.Run("ComputesAJobWhoseRecordAWipeOfTheStoreLost", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		j := b.accept(t, job.Job{RequestID: "owed", A: 1, B: 10})
		b.store.Wipe()
		b.send(1, j)
		b.waitFor(t, "commit 1")
		if rec := b.store.get("owed"); rec.Status != job.Finished || *rec.Payload != "17" {
			t.Fatalf("record = %+v, want FINISHED 17", rec)
		}
	})

	t.Run("DeadLettersAMessageThatContradictsItsRecord", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		j := b.accept(t, job.Job{RequestID: "j1", A: 1, B: 10})
		forged := j
		forged.B = 1_000_000
		b.send(1, forged)
		b.waitFor(t, "commit 1")
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(got) != "[dlq 1 commit 1]" {
			t.Fatalf("events = %v, want it dead-lettered", got)
		}
		if rec := b.store.get("j1"); rec.Status != job.InProgress || rec.B != 10 {
			t.Fatalf("record = %+v, want the accepted job untouched", rec)
		}
	})

	t.Run("SkipsJobsWhoseRecordIsAlreadyFinal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		j := b.accept(t, job.Job{RequestID: "gone", A: 1, B: 1e15})
		_, _ = b.store.Cancel(context.Background(), "gone")
		b.send(2, j)
		b.waitFor(t, "commit 2")
		if got := withoutLeases(b.events.snapshot()); fmt.Sprint(got) != "[commit 2]" {
			t.Fatalf("events = %v, want a commit without computing or storing", got)
		}
	})

	t.Run("StopsACancelledJobEvenWhenTheAnnouncementIsMissed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{leaseTTL: time.Second}) // no cancellation channel at all
		b.submit(t, 8, job.Job{RequestID: "long", A: 1, B: 1e15})
		b.waitFor(t, "lease long")
		_, _ = b.store.Cancel(context.Background(), "long")
		b.waitFor(t, "commit 8") // the next lease renewal reads the record
		if rec := b.store.get("long"); rec.Status != job.Cancelled {
			t.Fatalf("record = %+v, want CANCELLED to stand", rec)
		}
	})
}
