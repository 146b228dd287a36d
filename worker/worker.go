// Package worker computes jobs. A worker process runs several members of the
// Kafka consumer group; each fetches a job, computes its sum, stores the
// result and only then commits, so a crash anywhere before the commit means
// the job is delivered again (at least once), and storing the same result
// twice is harmless.
//
// Failures are sorted by what retrying would do: a store or broker that is
// down is retried with backoff and nothing is committed meanwhile; a message
// that can never succeed (not a job, or a range the engines reject) goes to
// the dead-letter topic, its record becomes FAILED, and the partition moves
// on.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Store is what the worker needs of the result store: the records, and the
// lease and progress of the jobs it computes.
type Store interface {
	store.Records
	store.Progress
}

var _ Store = store.Store(nil)

// Worker runs consumer-group members until its context ends.
type Worker struct {
	owner        string // names this process in leases
	limits       job.Limits
	leaseTTL     time.Duration
	store        Store
	newConsumer  func() queue.Consumer
	members      int
	threads      int
	drainTimeout time.Duration
	log          *slog.Logger
	now          func() time.Time

	cancellations <-chan string
	callbacks     *callback.Sender
	mu            sync.Mutex
	running       map[string]context.CancelCauseFunc // jobs in flight here, by id
}

// errCancelled is the cause of a job context ended by its client.
var errCancelled = errors.New("cancelled by the client")

// Config holds what a Worker depends on.
type Config struct {
	Store Store
	// Owner names this process in the leases it takes.
	Owner string
	// Limits are the API's: a message past them is dead-lettered, never
	// computed.
	Limits job.Limits
	// NewConsumer returns a fresh consumer-group member; it is called once
	// per member.
	NewConsumer func() queue.Consumer
	// Concurrency is how many members (jobs at once) to run.
	Concurrency int
	// Threads is how many goroutines one job's engine uses; 0 shares
	// GOMAXPROCS among the members.
	Threads int
	// DrainTimeout is how long jobs in flight at shutdown may take to
	// finish before they are abandoned uncommitted.
	DrainTimeout time.Duration
	// LeaseTTL is how long a job's lease lasts without renewal; a worker
	// renews it three times per TTL while computing.
	LeaseTTL time.Duration
	// Cancellations, when set, delivers the ids of jobs their clients
	// cancel; a job computing here stops at once.
	Cancellations <-chan string
	// Callbacks delivers final records to the clients that asked; nil
	// means callbacks are off.
	Callbacks *callback.Sender
	Log       *slog.Logger
}

// New returns a Worker for cfg.
func New(cfg Config) *Worker {
	threads := cfg.Threads
	if threads == 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/cfg.Concurrency)
	}
	return &Worker{
		owner:        cfg.Owner,
		limits:       cfg.Limits,
		leaseTTL:     cfg.LeaseTTL,
		store:        cfg.Store,
		newConsumer:  cfg.NewConsumer,
		members:      cfg.Concurrency,
		threads:      threads,
		drainTimeout: cfg.DrainTimeout,
		log:          cfg.Log,
		now:          time.Now,

		cancellations: cfg.Cancellations,
		callbacks:     cfg.Callbacks,
		running:       map[string]context.CancelCauseFunc{},
	}
}

// Run consumes until ctx is cancelled.
//
// Shutdown order: when ctx ends, members stop fetching; jobs in flight get
// DrainTimeout to compute, store and commit, after which they are abandoned
// uncommitted (another member gets them again); then each member closes its
// reader, leaving the group at once so its partitions move without waiting
// for a session timeout.
func (w *Worker) Run(ctx context.Context) error {
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	go func() {
		select {
		case <-work.Done():
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(w.drainTimeout)
		defer t.Stop()
		select {
		case <-work.Done():
		case <-t.C:
			stopWork()
		}
	}()

	if w.cancellations != nil {
		go w.watchCancellations(work)
	}
	var wg sync.WaitGroup
	for i := range w.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.member(ctx, work, w.log.With("member", i))
		}()
	}
	wg.Wait()
	return nil
}

// member fetches while ctx lasts and handles each job under work, which
// outlives ctx by the drain deadline.
func (w *Worker) member(ctx, work context.Context, log *slog.Logger) {
	c := w.newConsumer()
	defer func() {
		if err := c.Close(); err != nil {
			log.Warn("close consumer", "error", err)
		}
	}()
	queue.Each(ctx, c, log, func(m queue.Message, err error) {
		if err != nil {
			w.reject(work, c, m, err.Error(), false, log)
			return
		}
		w.handle(work, c, m, log.With("requestId", m.Job.RequestID))
	})
}

// watchCancellations stops the jobs computing here whose clients cancel.
func (w *Worker) watchCancellations(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id, ok := <-w.cancellations:
			if !ok {
				return
			}
			w.mu.Lock()
			w.log.Debug("cancellation announced", "requestId", id, "here", w.running[id] != nil)
			if cancel := w.running[id]; cancel != nil {
				cancel(errCancelled)
			}
			w.mu.Unlock()
		}
	}
}

// handle checks a message, then computes its job, stores the result and
// commits. Nothing in a message is trusted: its range must pass the limits
// the API applies, and it is computed only as the job the API accepted
// (its record IN_PROGRESS, with the same range) or one whose record a wipe
// of the store lost. A job cancelled, rejected, finished or never accepted
// is committed without computing; a message that fails the limits or
// contradicts its record is dead-lettered.
func (w *Worker) handle(work context.Context, c queue.Consumer, m queue.Message, log *slog.Logger) {
	j := m.Job
	plan, invalid := w.limits.Check(j.A, j.B)
	var v verdict
	var why string
	ok := backoff.Retry(work, log, "read the job's record", func(ctx context.Context) (err error) {
		v, why, err = w.admit(ctx, j)
		return err
	})
	switch {
	case !ok:
		return // shutting down: it will be delivered again
	case invalid != nil:
		w.reject(work, c, m, invalid.Error(), v == compute, log)
	case v == poison:
		w.reject(work, c, m, why, false, log)
	case v == compute:
		w.compute(work, c, m, plan, log)
	default:
		if v == final {
			metrics.JobsRedelivered.Inc()
		} else {
			metrics.JobsSkipped.WithLabelValues("no_record").Inc()
		}
		log.Info("skipping the job: "+why, "a", j.A, "b", j.B)
		w.commit(work, c, m, log)
	}
}

// verdict is what admit decides for a message.
type verdict int

const (
	compute verdict = iota // the accepted job, or one a wipe lost the record of
	final                  // its record is final already: commit past it
	unowed                 // no record, and none lost: commit past it
	poison                 // not the job it names: dead-letter it
)

// admit reads j's record and decides; an error means the store could not
// say, and admit should be asked again.
func (w *Worker) admit(ctx context.Context, j job.Job) (verdict, string, error) {
	rec, err := w.store.Get(ctx, j.RequestID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		gen, err := w.store.Generation(ctx)
		switch {
		case err != nil:
			return 0, "", err
		case j.Generation == "" || j.Generation == gen:
			return unowed, "it has no record: the API never accepted it, withdrew it, or its result expired", nil
		}
		return compute, "", nil // accepted before the store was wiped: still owed
	case err != nil:
		return 0, "", err
	case !rec.Same(j):
		return poison, fmt.Sprintf("the message asks for [%d, %d] but request %s is [%d, %d]", j.A, j.B, rec.RequestID, rec.A, rec.B), nil
	case rec.Status.Final():
		return final, "it is " + string(rec.Status) + " already", nil
	}
	return compute, "", nil
}

// compute runs an admitted job; a client's cancellation stops it.
func (w *Worker) compute(work context.Context, c queue.Consumer, m queue.Message, plan primes.Plan, log *slog.Logger) {
	j, start := m.Job, w.now()
	ctx, cancel := context.WithCancelCause(work)
	defer cancel(nil)
	w.mu.Lock()
	w.running[j.RequestID] = cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, j.RequestID)
		w.mu.Unlock()
	}()

	tracker := w.hold(ctx, j, cancel, log)
	log.Debug("computing", "a", j.A, "b", j.B, "engine", plan.Engine, "estimate", plan.Estimate)
	sum, err := plan.Run(ctx, primes.Options{Threads: w.threads, Progress: tracker.report})
	tracker.stop()
	switch {
	case context.Cause(ctx) == errCancelled:
		log.Info("job cancelled by its client; stopped")
		w.commit(work, c, m, log)
		return
	case ctx.Err() != nil:
		log.Info("job abandoned at shutdown; it will be delivered again")
		return
	case err != nil:
		// The engines fail only on a range they cannot take, the same way
		// every time: retrying would only block the partition.
		w.reject(work, c, m, err.Error(), true, log)
		return
	}
	rec := j.Finished(sum.String(), w.now().UTC())
	metrics.ComputeSeconds.WithLabelValues(string(plan.Engine)).Observe(w.now().Sub(start).Seconds())
	if !w.save(work, rec, log) {
		return
	}
	metrics.JobsFinished.WithLabelValues(string(plan.Engine)).Inc()
	if !j.CreatedAt.IsZero() {
		metrics.EndToEndSeconds.Observe(w.now().Sub(j.CreatedAt).Seconds())
	}
	w.commit(work, c, m, log)
	log.Info("job done", "a", j.A, "b", j.B, "engine", plan.Engine,
		"estimate", plan.Estimate.Round(time.Microsecond), "elapsed", w.now().Sub(start).Round(time.Microsecond))
}

// tracker keeps a running job visible: it renews the job's lease, so that
// the janitor can tell a long job from a lost one, and publishes its
// progress a few times per second at most, whatever the engine reports.
type tracker struct {
	progress atomic.Uint64 // math.Float64bits of the latest fraction
	done     chan struct{}
	stopped  chan struct{}
}

// report records the engine's progress; it is called from the engine's
// goroutines and only stores a number.
func (t *tracker) report(f float64) { t.progress.Store(math.Float64bits(f)) }

func (t *tracker) stop() {
	close(t.done)
	<-t.stopped
}

// progressEvery spaces progress writes: a few per second at most.
const progressEvery = 250 * time.Millisecond

func (w *Worker) hold(ctx context.Context, j job.Job, cancel context.CancelCauseFunc, log *slog.Logger) *tracker {
	t := &tracker{done: make(chan struct{}), stopped: make(chan struct{})}
	id := j.RequestID
	lease := func() {
		if err := w.store.Lease(ctx, id, w.owner, w.leaseTTL); err != nil && ctx.Err() == nil {
			log.Warn("lease not renewed", "error", err)
		}
	}
	// Each renewal also reads the record again: a cancellation whose
	// announcement was missed (pub/sub does not queue) still stops the job.
	renew := func() {
		lease()
		if v, _, err := w.admit(ctx, j); err == nil && v != compute {
			cancel(errCancelled)
		}
	}
	lease()
	go func() {
		defer close(t.stopped)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		lastRenew, sent := time.Now(), uint64(0)
		for {
			select {
			case <-t.done:
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if now.Sub(lastRenew) >= w.leaseTTL/3 {
					renew()
					lastRenew = now
				}
				if p := t.progress.Load(); p != sent {
					sent = p
					if err := w.store.SetProgress(ctx, id, math.Float64frombits(p)); err != nil && ctx.Err() == nil {
						log.Warn("progress not recorded", "error", err)
					}
				}
			}
		}
	}()
	return t
}

// reject sends a message that can never succeed to the dead-letter topic
// and commits past it. With fail, the message is the accepted job itself,
// and its record becomes FAILED with the reason; otherwise no record is
// touched: a message cannot fail a job it merely names.
func (w *Worker) reject(ctx context.Context, c queue.Consumer, m queue.Message, reason string, fail bool, log *slog.Logger) {
	log.Error("sending message to the dead-letter topic", "partition", m.Partition, "offset", m.Offset, "reason", reason)
	if !backoff.Retry(ctx, log, "dead-letter", func(ctx context.Context) error { return c.DeadLetter(ctx, m, reason) }) {
		return
	}
	if fail {
		rec := m.Job.Failed(reason, w.now().UTC())
		if !w.save(ctx, rec, log) {
			return
		}
		metrics.JobsFailed.WithLabelValues("worker").Inc()
	}
	w.commit(ctx, c, m, log)
}

// save writes a final record, retrying until it is stored, and then calls
// back the client that asked. A record that was final already (cancelled
// meanwhile) stays as it is, with no callback. It reports false if ctx
// ended first.
func (w *Worker) save(ctx context.Context, rec job.Record, log *slog.Logger) bool {
	var written bool
	ok := backoff.Retry(ctx, log, "store "+string(rec.Status), func(ctx context.Context) (err error) {
		written, err = store.Finish(ctx, w.store, rec)
		return err
	})
	if ok && written {
		w.callbacks.Send(rec)
	}
	return ok
}

func (w *Worker) commit(ctx context.Context, c queue.Consumer, m queue.Message, log *slog.Logger) {
	if err := c.Commit(ctx, m); err != nil && ctx.Err() == nil {
		// The group may have moved the partition; its new owner will see the
		// job again and store the same result.
		log.Warn("commit failed; the job may be delivered again", "partition", m.Partition, "offset", m.Offset, "error", err)
	}
}

// Threads returns how many threads each job's engine uses.
func (w *Worker) Threads() int { return w.threads }
