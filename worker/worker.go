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
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Worker runs consumer-group members until its context ends.
type Worker struct {
	id           string // names this process in leases
	leaseTTL     time.Duration
	store        store.Store
	newConsumer  func() queue.Consumer
	members      int
	threads      int
	drainTimeout time.Duration
	log          *slog.Logger
	now          func() time.Time
}

// Config holds what a Worker depends on.
type Config struct {
	Store store.Store
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
	Log      *slog.Logger
}

// New returns a Worker for cfg.
func New(cfg Config) *Worker {
	threads := cfg.Threads
	if threads == 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/cfg.Concurrency)
	}
	host, _ := os.Hostname()
	return &Worker{
		id:           fmt.Sprintf("%s-%d", host, os.Getpid()),
		leaseTTL:     cmp.Or(cfg.LeaseTTL, 15*time.Second),
		store:        cfg.Store,
		newConsumer:  cfg.NewConsumer,
		members:      cfg.Concurrency,
		threads:      threads,
		drainTimeout: cfg.DrainTimeout,
		log:          cfg.Log,
		now:          time.Now,
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
	var fails backoff.Backoff
	for ctx.Err() == nil {
		m, err := c.Fetch(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, queue.ErrUndecodable):
			w.reject(work, c, m, err.Error(), log)
			continue
		case err != nil:
			log.Warn("fetch failed", "error", err)
			fails.Wait(ctx)
			continue
		}
		fails.Reset()
		w.handle(work, c, m, log.With("requestId", m.Job.RequestID))
	}
}

// handle computes a job, stores its result and commits it.
func (w *Worker) handle(ctx context.Context, c queue.Consumer, m queue.Message, log *slog.Logger) {
	j := m.Job
	start := w.now()
	defer w.hold(ctx, j.RequestID, log)()
	plan := primes.PlanRange(j.A, j.B)
	log.Debug("computing", "a", j.A, "b", j.B, "engine", plan.Engine, "estimate", plan.Estimate)
	sum, err := plan.Run(ctx, primes.Options{Threads: w.threads})
	switch {
	case ctx.Err() != nil:
		log.Info("job abandoned at shutdown; it will be delivered again")
		return
	case err != nil:
		// The engines fail only on a range they cannot take, the same way
		// every time: retrying would only block the partition.
		w.reject(ctx, c, m, err.Error(), log)
		return
	}
	rec := j.Finished(sum.String(), w.now().UTC())
	if !w.retry(ctx, log, "store result", func(ctx context.Context) error { return w.store.Put(ctx, rec) }) {
		return
	}
	w.commit(ctx, c, m, log)
	log.Info("job done", "a", j.A, "b", j.B, "engine", plan.Engine,
		"estimate", plan.Estimate.Round(time.Microsecond), "elapsed", w.now().Sub(start).Round(time.Microsecond))
}

// hold takes the job's lease and renews it until the returned function is
// called, so that the janitor can tell a long job from a lost one.
func (w *Worker) hold(ctx context.Context, id string, log *slog.Logger) (release func()) {
	renew := func() {
		if err := w.store.Lease(ctx, id, w.id, w.leaseTTL); err != nil && ctx.Err() == nil {
			log.Warn("lease not renewed", "error", err)
		}
	}
	renew()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(w.leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				renew()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// reject sends a message that can never succeed to the dead-letter topic,
// records its job as FAILED when it knows which job it was, and commits
// past it.
func (w *Worker) reject(ctx context.Context, c queue.Consumer, m queue.Message, reason string, log *slog.Logger) {
	log.Error("sending message to the dead-letter topic", "partition", m.Partition, "offset", m.Offset, "reason", reason)
	if !w.retry(ctx, log, "dead-letter", func(ctx context.Context) error { return c.DeadLetter(ctx, m, reason) }) {
		return
	}
	j := m.Job
	if j.RequestID == "" {
		if id, err := uuid.Parse(m.Key); err == nil {
			j = job.Job{RequestID: id.String()}
		}
	}
	if j.RequestID != "" {
		rec := j.Failed(reason, w.now().UTC())
		if !w.retry(ctx, log, "store failure", func(ctx context.Context) error { return w.store.Put(ctx, rec) }) {
			return
		}
	}
	w.commit(ctx, c, m, log)
}

// retry calls f until it succeeds, with backoff; it reports false if ctx
// ended first.
func (w *Worker) retry(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) bool {
	var b backoff.Backoff
	for {
		err := f(ctx)
		if err == nil {
			return true
		}
		log.Warn(what+" failed; retrying", "error", err)
		if !b.Wait(ctx) {
			return false
		}
	}
}

func (w *Worker) commit(ctx context.Context, c queue.Consumer, m queue.Message, log *slog.Logger) {
	if err := c.Commit(ctx, m); err != nil && ctx.Err() == nil {
		// The group may have moved the partition; its new owner will see the
		// job again and store the same result.
		log.Warn("commit failed; the job may be delivered again", "partition", m.Partition, "offset", m.Offset, "error", err)
	}
}
