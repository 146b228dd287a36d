// Package worker computes jobs. A worker process runs several members of the
// Kafka consumer group; each fetches a job, computes its sum, stores the
// result and only then commits, so a crash anywhere before the commit means
// the job is delivered again (at least once), and storing the same result
// twice is harmless.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Worker runs consumer-group members until its context ends.
type Worker struct {
	store       store.Store
	newConsumer func() queue.Consumer
	members     int
	threads     int
	log         *slog.Logger
	now         func() time.Time
}

// Config holds what a Worker depends on.
type Config struct {
	Store store.Store
	// NewConsumer returns a fresh consumer-group member; it is called once
	// per member.
	NewConsumer func() queue.Consumer
	// Concurrency is how many members (jobs at once) to run.
	Concurrency int
	// Threads is how many goroutines one job's sieve uses; 0 shares
	// GOMAXPROCS among the members.
	Threads int
	Log     *slog.Logger
}

// New returns a Worker for cfg.
func New(cfg Config) *Worker {
	threads := cfg.Threads
	if threads == 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/cfg.Concurrency)
	}
	return &Worker{
		store:       cfg.Store,
		newConsumer: cfg.NewConsumer,
		members:     cfg.Concurrency,
		threads:     threads,
		log:         cfg.Log,
		now:         time.Now,
	}
}

// Run consumes until ctx is cancelled. A job being computed when ctx ends is
// abandoned uncommitted, to be delivered again; each member then closes its
// reader, leaving the group at once so its partitions move without waiting
// for a session timeout.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range w.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.member(ctx, w.log.With("member", i))
		}()
	}
	wg.Wait()
	return nil
}

func (w *Worker) member(ctx context.Context, log *slog.Logger) {
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
			log.Error("skipping message that is not a job", "error", err)
			w.commit(ctx, c, m, log)
			continue
		case err != nil:
			log.Warn("fetch failed", "error", err)
			fails.Wait(ctx)
			continue
		}
		fails.Reset()
		if w.handle(ctx, m.Job, log) {
			w.commit(ctx, c, m, log)
		}
	}
}

// handle computes j and stores its final record, retrying the store until it
// succeeds; it reports false when ctx ended first, so the job stays
// uncommitted.
func (w *Worker) handle(ctx context.Context, j job.Job, log *slog.Logger) bool {
	log = log.With("requestId", j.RequestID)
	start := w.now()
	plan := primes.PlanRange(j.A, j.B)
	log.Debug("computing", "a", j.A, "b", j.B, "engine", plan.Engine, "estimate", plan.Estimate)
	sum, err := plan.Run(ctx, primes.Options{Threads: w.threads})
	var rec job.Record
	switch {
	case ctx.Err() != nil:
		log.Info("job abandoned at shutdown; it will be delivered again")
		return false
	case err != nil:
		// Only a range the engine cannot take fails here, and it will fail
		// the same way every time: record it rather than retry.
		log.Error("job failed", "a", j.A, "b", j.B, "error", err)
		rec = j.Failed(err.Error(), w.now().UTC())
	default:
		rec = j.Finished(sum.String(), w.now().UTC())
	}
	var fails backoff.Backoff
	for {
		err := w.store.Put(ctx, rec)
		if err == nil {
			break
		}
		log.Warn("store result failed; retrying", "error", err)
		if !fails.Wait(ctx) {
			return false
		}
	}
	log.Info("job done", "status", rec.Status, "a", j.A, "b", j.B, "engine", plan.Engine,
		"estimate", plan.Estimate.Round(time.Microsecond), "elapsed", w.now().Sub(start).Round(time.Microsecond))
	return true
}

func (w *Worker) commit(ctx context.Context, c queue.Consumer, m queue.Message, log *slog.Logger) {
	if err := c.Commit(ctx, m); err != nil && ctx.Err() == nil {
		// The group may have moved the partition; its new owner will see the
		// job again and store the same result.
		log.Warn("commit failed; the job may be delivered again", "partition", m.Partition, "offset", m.Offset, "error", err)
	}
}
