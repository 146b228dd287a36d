package worker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Scatter and gather. A job the planner expects to take Scatter.Threshold
// or more is not computed where it is admitted: it is cut into tasks
// (primes.Scatter), recorded in the store as that many, and its tasks not
// yet done are published to the task topic; then its message is done.
// Any worker's task lane takes a task as it does a job (leasing the job,
// skipping it once the job is final, stopping it when the job is
// cancelled), computes its piece and stores the part under the job, once.
// Whoever stores the last part gathers them all, exactly, into the job's
// FINISHED record: the store counts each part once however often it is
// written, and the first final record stands, so a task delivered twice,
// or two workers gathering at once, change nothing.
//
// A crash before the tasks are all published leaves the job's message
// uncommitted: it is delivered again and scattered again, publishing only
// the tasks whose parts are missing. A task lost after that is the
// janitor's: it publishes the job again, which does the same.

// scatterJob records j's tasks and publishes those not done yet, retrying
// the store and the broker until ctx ends.
func (l *lane) scatterJob(ctx context.Context, j job.Job, plan primes.Plan, log *slog.Logger) error {
	pieces := primes.Scatter(plan, l.w.scatter.TaskCost)
	var total time.Duration
	for _, p := range pieces {
		total += p.Estimate
	}
	var (
		stored []int
		n      int
	)
	if !backoff.Retry(ctx, log, "record the job's tasks", func(ctx context.Context) (err error) {
		stored, n, err = l.w.store.Scatter(ctx, j.RequestID, len(pieces), total)
		return err
	}) {
		return ctx.Err()
	}
	if n != len(pieces) {
		// Scattered before under another scatter.task_cost: its parts
		// would not fit these pieces.
		return fmt.Errorf("the job was cut into %d tasks before and into %d now: scatter.task_cost differs between workers", n, len(pieces))
	}
	var tasks []job.Job
	for i, p := range pieces {
		if !slices.Contains(stored, i) {
			t := j
			t.Task = &job.Task{Index: i, Count: n, Piece: p}
			tasks = append(tasks, t)
		}
	}
	published := len(tasks)
	var fails backoff.Backoff
	for len(tasks) > 0 {
		var again []job.Job
		for i, err := range l.w.tasks.PublishAll(ctx, tasks) {
			if err != nil {
				again = append(again, tasks[i])
				log.Warn("task not published; retrying", "task", tasks[i].Key(), "error", err)
			}
		}
		if tasks = again; len(tasks) > 0 && !fails.Wait(ctx) {
			return ctx.Err()
		}
	}
	metrics.TasksPublished.Add(float64(published))
	log.Info("job scattered", "tasks", n, "published", published, "estimate", plan.Estimate.Round(time.Millisecond))
	return nil
}

// storePart stores a task's part; if it was the last one, it gathers the
// job and returns its final record. It reports false if work ended first.
func (l *lane) storePart(work context.Context, j job.Job, part primes.Part) (*job.Record, bool) {
	log := l.log.With("requestId", j.RequestID, "task", j.Task.Index)
	data, err := part.MarshalBinary()
	if err != nil { // a piece that does not encode: a bug, never a retry
		rec := j.Failed(fmt.Sprintf("task %d's part does not encode: %v", j.Task.Index, err), l.w.now().UTC())
		return &rec, true
	}
	var c store.TaskCount
	if !backoff.Retry(work, log, "store a task's part", func(ctx context.Context) (err error) {
		c, err = l.w.store.PutPart(ctx, j.RequestID, j.Task.Index, data, j.Task.Piece.Estimate)
		return err
	}) {
		return nil, false
	}
	metrics.TasksDone.Inc()
	if !c.Complete() {
		if err := l.w.store.SetProgress(work, j.RequestID, c.Share); err != nil && work.Err() == nil {
			log.Warn("progress not recorded", "error", err)
		}
		return nil, true
	}
	var rec job.Record
	if !backoff.Retry(work, log, "gather the job's parts", func(ctx context.Context) (err error) {
		rec, err = l.gatherJob(ctx, j, c.Of)
		return err
	}) {
		return nil, false
	}
	return &rec, true
}

// gatherJob reads the n parts of j and adds them up into its final record:
// FINISHED with the sum, or FAILED if the parts do not make one (which a
// retry would not change). An error is the store's.
func (l *lane) gatherJob(ctx context.Context, j job.Job, n int) (job.Record, error) {
	stored, err := l.w.store.Parts(ctx, j.RequestID)
	if err != nil {
		return job.Record{}, err
	}
	now := l.w.now().UTC()
	parts := make([]primes.Part, 0, n)
	for i := range n {
		data, ok := stored[i]
		if !ok {
			return j.Failed(fmt.Sprintf("task %d of %d has no part stored", i, n), now), nil
		}
		var p primes.Part
		if err := p.UnmarshalBinary(data); err != nil {
			return j.Failed(fmt.Sprintf("task %d's part: %v", i, err), now), nil
		}
		parts = append(parts, p)
	}
	sum, err := primes.Gather(parts)
	if err != nil {
		return j.Failed(fmt.Sprintf("the parts of %d tasks do not add up: %v", n, err), now), nil
	}
	rec := j.Finished(sum.String(), now)
	rec.Tasks, rec.TasksDone = n, n
	l.log.Info("scattered job gathered", "requestId", j.RequestID, "tasks", n)
	return rec, nil
}
