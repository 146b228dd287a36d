// Package janitor recovers work that would otherwise stay IN_PROGRESS
// forever. One janitor is active at a time (a renewable lock in Redis), so
// any number of replicas is safe.
//
// Each pass looks at the jobs the pending index has not seen alive for a
// while. A job whose record is final or gone is pruned from the index. A job
// a worker holds a lease on is running: left alone. A job whose partition
// the consumer group has not finished consuming may still be waiting in the
// queue: left alone too, so a long backlog never causes duplicates (for a
// scattered job, while any task waits in the task topic). What is left —
// nobody working on it, its partition consumed — was lost (a result or a
// message that did not survive a crash): the janitor publishes it again,
// up to MaxAttempts times, and then records it as FAILED. A scattered job
// published again is scattered again: only its tasks without a stored
// part are published.
//
// It never races a worker: a FAILED record never replaces a FINISHED one,
// and a job published twice is computed twice to the same result.
package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Store is what the janitor needs of the result store: the records and
// the index of pending jobs.
type Store interface {
	store.Records
	store.Index
}

// Queue is what the janitor needs of the job queue: to publish a lost job
// again, and to tell a lost job from one still waiting in its partition.
type Queue interface {
	Publish(ctx context.Context, j job.Job) error
	Lag(ctx context.Context) (queue.Lag, error)
}

var (
	_ Store = store.Store(nil)
	_ Queue = (*queue.Kafka)(nil)
)

// Config holds what a Janitor depends on.
type Config struct {
	Store Store
	Queue Queue
	// Interval is the time between passes.
	Interval time.Duration
	// StaleAfter is how long a pending job may go unseen before a pass
	// looks at it.
	StaleAfter time.Duration
	// MaxAttempts is how many times a lost job is published again before
	// it is recorded as FAILED.
	MaxAttempts int
	// Owner names this process in the janitor lock.
	Owner string
	// DeadLetters, when set, returns a consumer of the dead-letter topic:
	// the janitor records every job found there as FAILED.
	DeadLetters func() queue.Consumer
	// Callbacks tells clients that asked about the jobs given up on.
	Callbacks *callback.Sender
	Log       *slog.Logger
}

// Counts are what the janitor has done since it started.
type Counts struct {
	Passes      int64 // passes made while holding the lock
	Republished int64 // lost jobs published again
	Failed      int64 // lost jobs given up on
	Pruned      int64 // index entries whose record was final or gone
	Running     int64 // stale entries found leased, left alone
	Waiting     int64 // stale entries whose partition still has a backlog, left alone
	DeadLetters int64 // dead letters drained into FAILED records
}

// Janitor makes passes over the pending index while it holds the lock.
type Janitor struct {
	cfg Config
	now func() time.Time

	passes, republished, failed, pruned, running, waiting, deadLetters atomic.Int64
}

// New returns a Janitor for cfg.
func New(cfg Config) *Janitor {
	return &Janitor{cfg: cfg, now: time.Now}
}

// note counts one finding or action, for Counts and for /metrics.
func (j *Janitor) note(c *atomic.Int64, action string) {
	c.Add(1)
	metrics.JanitorActions.WithLabelValues(action).Inc()
}

// Counts returns what the janitor has done so far.
func (j *Janitor) Counts() Counts {
	return Counts{
		Passes: j.passes.Load(), Republished: j.republished.Load(), Failed: j.failed.Load(),
		Pruned: j.pruned.Load(), Running: j.running.Load(), Waiting: j.waiting.Load(),
		DeadLetters: j.deadLetters.Load(),
	}
}

// Run makes a pass every Interval while it holds the lock, and drains the
// dead-letter topic, until ctx ends; then it frees the lock so another
// replica can take over at once.
func (j *Janitor) Run(ctx context.Context) error {
	if j.cfg.DeadLetters != nil {
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			j.drain(ctx, j.cfg.DeadLetters())
		}()
		defer func() { <-drained }()
	}
	t := time.NewTicker(j.cfg.Interval)
	defer t.Stop()
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := j.cfg.Store.Resign(ctx, j.cfg.Owner); err != nil {
			j.cfg.Log.Warn("could not free the janitor lock", "error", err)
		}
	}()
	for {
		if err := j.tick(ctx); err != nil && ctx.Err() == nil {
			j.cfg.Log.Warn("janitor pass failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (j *Janitor) tick(ctx context.Context) error {
	// The lock outlives three intervals, so a janitor that dies is replaced
	// within that time, and one that is merely slow keeps it.
	leading, err := j.cfg.Store.Lead(ctx, j.cfg.Owner, 3*j.cfg.Interval)
	if err != nil || !leading {
		return err
	}
	return j.Pass(ctx)
}

// Pass looks once at every stale pending job (up to a batch).
func (j *Janitor) Pass(ctx context.Context) error {
	j.note(&j.passes, "pass")
	now := j.now()
	ids, err := j.cfg.Store.Stale(ctx, now.Add(-j.cfg.StaleAfter), 500)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	lag, err := j.cfg.Queue.Lag(ctx)
	if err != nil {
		return err
	}
	before := j.Counts()
	for _, id := range ids {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := j.inspect(ctx, id, now, lag); err != nil {
			j.cfg.Log.Warn("janitor could not handle a job", "requestId", id, "error", err)
		}
	}
	after := j.Counts()
	j.cfg.Log.Info("janitor pass", "stale", len(ids),
		"republished", after.Republished-before.Republished, "failed", after.Failed-before.Failed,
		"pruned", after.Pruned-before.Pruned, "running", after.Running-before.Running,
		"waiting", after.Waiting-before.Waiting)
	return nil
}

func (j *Janitor) inspect(ctx context.Context, id string, now time.Time, lag queue.Lag) error {
	s := j.cfg.Store
	rec, err := s.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && rec.Status.Final():
		j.note(&j.pruned, "pruned")
		return s.Forget(ctx, id)
	case err != nil:
		return err
	}
	leased, err := s.Leased(ctx, id)
	switch {
	case err != nil:
		return err
	case leased:
		j.note(&j.running, "running")
		return s.Touch(ctx, id, now)
	case lag.Of(rec.Job) > 0, rec.Tasks > 0 && lag.Tasks() > 0:
		// Its message, or (scattered) tasks, may still be waiting.
		j.note(&j.waiting, "waiting")
		return s.Touch(ctx, id, now)
	}
	log := j.cfg.Log.With("requestId", id)
	attempt, err := s.Attempt(ctx, id)
	if err != nil {
		return err
	}
	lost := rec.Job
	if attempt > j.cfg.MaxAttempts {
		log.Error("giving up on a job no worker completed", "attempts", attempt-1)
		j.note(&j.failed, "failed")
		failed := lost.Failed(fmt.Sprintf("no worker completed the job after %d attempts", attempt-1), now.UTC())
		return j.fail(ctx, failed)
	}
	log.Warn("publishing a lost job again", "attempt", attempt)
	if err := j.cfg.Queue.Publish(ctx, lost); err != nil {
		return err
	}
	j.note(&j.republished, "republished")
	return s.Touch(ctx, id, now)
}

// drain records the job of every dead letter as FAILED with the reason the
// worker gave, unless it has FINISHED meanwhile, then commits past it. The
// dead-letter consumer group makes one replica do it, whichever leads.
func (j *Janitor) drain(ctx context.Context, c queue.Consumer) {
	defer c.Close()
	queue.Each(ctx, c, j.cfg.Log, func(m queue.Message, _ error) {
		// Retried in place: the next fetch would move past it.
		if !backoff.Retry(ctx, j.cfg.Log, "recording a dead letter", func(ctx context.Context) error { return j.settleDeadLetter(ctx, m) }) {
			return
		}
		if err := c.Commit(ctx, m); err != nil && ctx.Err() == nil {
			j.cfg.Log.Warn("commit of a dead letter failed", "error", err)
		}
	})
}

func (j *Janitor) settleDeadLetter(ctx context.Context, m queue.Message) error {
	if m.Job.RequestID == "" {
		return nil // not a job: it speaks for none, whatever its key
	}
	rec, err := j.cfg.Store.Get(ctx, m.Job.RequestID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // never accepted, withdrawn, or long expired: nothing owed
	case err != nil:
		return err
	case rec.Status.Final() || !rec.Same(m.Job):
		return nil // done already, or not the job it names
	}
	reason := m.Reason
	if reason == "" {
		reason = "the job was dead-lettered"
	}
	j.note(&j.deadLetters, "dead_letter")
	return j.fail(ctx, rec.Job.Failed(reason, j.now().UTC()))
}

// fail stores a FAILED record and calls its client back, unless the job
// became final meanwhile (the first final state stands).
func (j *Janitor) fail(ctx context.Context, failed job.Record) error {
	written, err := store.Finish(ctx, j.cfg.Store, failed)
	if written {
		j.cfg.Callbacks.Send(failed)
	}
	return err
}
