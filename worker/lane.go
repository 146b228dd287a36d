package worker

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
	"github.com/sumprimes/sumprimes/pkg/tracing"
)

// maxBatch bounds the jobs one store round trip carries.
const maxBatch = 256

// lane is one lane's pipeline in this process: a fetcher reading ahead, an
// admitter taking each batch of jobs from the store in one round trip, the
// compute slots fed round robin across clients, and a finisher storing
// each batch of results in one round trip and committing what is done.
// Stages hand work on over channels; none waits for a timer: each takes
// what has gathered while it was busy.
type lane struct {
	w       *Worker
	name    job.Lane
	c       queue.Consumer
	log     *slog.Logger
	threads int

	window  chan struct{} // one token per message fetched and not yet done
	fetched chan fetchedMsg
	queue   *fair
	results chan outcome
	commits *commits
}

type fetchedMsg struct {
	msg queue.Message
	err error // ErrUndecodable: not a job
}

// task is an admitted job waiting for, or holding, a compute slot.
type task struct {
	msg      queue.Message
	plan     primes.Plan
	admitted time.Time
	ctx      context.Context
	cancel   context.CancelCauseFunc
}

// outcome is what becomes of a message: with rec, a final record to store
// before it counts as done; with part, a task's part to store (and, if it
// is the last, its job's record); with abandon, nothing (it is not
// committed and will be delivered again).
type outcome struct {
	msg     queue.Message
	rec     *job.Record
	part    *primes.Part
	abandon bool
	elapsed time.Duration // computing it
}

// runLane runs one lane until ctx ends and its jobs in flight are done or
// abandoned under work.
func (w *Worker) runLane(ctx, work context.Context, name job.Lane) {
	l := &lane{
		w: w, name: name, c: w.newConsumer(name), log: w.log.With("lane", name.String()),
		threads: w.threads,
		window:  make(chan struct{}, w.prefetch), fetched: make(chan fetchedMsg, w.prefetch),
		queue: newFair(), results: make(chan outcome, w.prefetch), commits: newCommits(),
	}
	if name != job.Heavy { // light jobs and tasks take one thread each
		l.threads = 1
	}
	l.log.Info("lane consuming", "slots", w.slots[name], "threads", l.threads, "prefetch", w.prefetch)
	defer func() { // sends the last commits
		if err := l.c.Close(); err != nil {
			l.log.Warn("close consumer", "error", err)
		}
	}()

	var producers, finisher sync.WaitGroup
	finisher.Go(func() { l.finish(work) })
	producers.Go(func() {
		<-ctx.Done()
		for _, t := range l.queue.close() { // not started: delivered again
			l.forget(t)
			l.results <- outcome{msg: t.msg, abandon: true}
		}
	})
	producers.Go(func() { l.fetch(ctx) })
	producers.Go(func() { l.admit(ctx, work) })
	for range w.slots[name] {
		producers.Go(func() { l.computeLoop() })
	}
	producers.Wait()
	close(l.results)
	finisher.Wait()
}

// fetch reads ahead while ctx lasts, at most Prefetch messages beyond the
// oldest one not done.
func (l *lane) fetch(ctx context.Context) {
	defer close(l.fetched)
	var fails backoff.Backoff
	for {
		select {
		case l.window <- struct{}{}:
		case <-ctx.Done():
			return
		}
		m, err := l.c.Fetch(ctx)
		switch {
		case ctx.Err() != nil:
			<-l.window
			return
		case err != nil && !errors.Is(err, queue.ErrUndecodable):
			<-l.window
			l.log.Warn("fetch failed", "error", err)
			fails.Wait(ctx)
			continue
		}
		fails.Reset()
		if l.name == job.Light {
			l.w.lightFirst.begin()
		}
		l.commits.fetched(m)
		l.fetched <- fetchedMsg{m, err}
	}
}

// gather returns first and whatever else ch holds right now, up to
// maxBatch in all: a batch that never waits for more to arrive.
func gather[T any](first T, ch <-chan T) []T {
	batch := []T{first}
	for len(batch) < maxBatch {
		select {
		case v, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, v)
		default:
			return batch
		}
	}
	return batch
}

// admit takes the fetched messages in batches: what arrived while the last
// batch was being read.
func (l *lane) admit(ctx, work context.Context) {
	for first := range l.fetched {
		batch := gather(first, l.fetched)
		if ctx.Err() != nil { // shutting down: not started, delivered again
			for _, f := range batch {
				l.results <- outcome{msg: f.msg, abandon: true}
			}
			continue
		}
		l.admitBatch(work, batch)
	}
}

// admitBatch checks each message, then reads and leases the batch's jobs
// in one round trip, and decides each. Nothing in a message is trusted:
// its range must pass the limits the API applies, and it is computed only
// as the job the API accepted (its record IN_PROGRESS, with the same range)
// or one whose record a wipe of the store lost. A job cancelled, rejected,
// finished or never accepted is committed without computing; a message
// that fails the limits or contradicts its record is dead-lettered.
func (l *lane) admitBatch(work context.Context, batch []fetchedMsg) {
	var (
		jobs  []fetchedMsg
		ids   []string
		plans []primes.Plan
		bad   []error
	)
	for _, f := range batch {
		if f.err != nil {
			l.reject(work, f.msg, f.err.Error(), false)
			continue
		}
		plan, invalid := l.w.limits.Check(f.msg.Job.A, f.msg.Job.B)
		jobs, ids = append(jobs, f), append(ids, f.msg.Job.RequestID)
		plans, bad = append(plans, plan), append(bad, invalid)
	}
	if len(jobs) == 0 {
		return
	}
	var found []store.Found
	var gen string
	ok := backoff.Retry(work, l.log, "read the jobs' records", func(ctx context.Context) (err error) {
		found, gen, err = l.w.store.Take(ctx, ids, l.w.owner, l.w.leaseTTL)
		return err
	})
	for i, f := range jobs {
		j := f.msg.Job
		if !ok { // shutting down: delivered again
			l.results <- outcome{msg: f.msg, abandon: true}
			continue
		}
		if err := found[i].Err; err != nil && !errors.Is(err, store.ErrNotFound) {
			l.log.Warn("record unreadable; dead-lettering the message", "requestId", j.RequestID, "error", err)
			l.reject(work, f.msg, err.Error(), false)
			continue
		}
		v, why := verdictOf(j, found[i], gen)
		switch {
		case bad[i] != nil:
			l.reject(work, f.msg, bad[i].Error(), v == compute)
		case v == poison:
			l.reject(work, f.msg, why, false)
		case v == compute:
			l.start(work, f.msg, plans[i])
		default:
			if v == final {
				metrics.JobsRedelivered.Inc()
			} else {
				metrics.JobsSkipped.WithLabelValues("no_record").Inc()
			}
			l.log.Info("skipping the job: "+why, "requestId", j.RequestID, "a", j.A, "b", j.B)
			l.results <- outcome{msg: f.msg}
		}
	}
}

// start queues an admitted job for a compute slot; from here its client's
// cancellation reaches it.
func (l *lane) start(work context.Context, m queue.Message, plan primes.Plan) {
	ctx, cancel := context.WithCancelCause(work)
	t := &task{msg: m, plan: plan, admitted: l.w.now(), ctx: ctx, cancel: cancel}
	l.w.mu.Lock()
	l.w.running[m.Job.Key()] = t
	l.w.mu.Unlock()
	if !l.queue.push(t) {
		l.forget(t)
		l.results <- outcome{msg: m, abandon: true}
	}
}

// forget ends t's context and takes it off the running list.
func (l *lane) forget(t *task) {
	t.cancel(nil)
	l.w.mu.Lock()
	if key := t.msg.Job.Key(); l.w.running[key] == t {
		delete(l.w.running, key)
	}
	l.w.mu.Unlock()
}

func (l *lane) computeLoop() {
	for {
		t, ok := l.queue.pop()
		if !ok {
			return
		}
		l.compute(t)
	}
}

// compute runs an admitted job; a client's cancellation stops it.
func (l *lane) compute(t *task) {
	defer l.forget(t)
	j, start := t.msg.Job, l.w.now()
	log := l.log.With("requestId", j.RequestID)
	tracker := l.w.hold(t.ctx, j, t.admitted, t.cancel, log)
	log.Debug("computing", "a", j.A, "b", j.B, "engine", t.plan.Engine, "estimate", t.plan.Estimate)
	_, span := l.w.tracer.Start(tracing.Extract(context.Background(), j.TraceParent), "compute", trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() { // tracing off: nothing to build
		span.SetAttributes(attribute.String("sumprimes.request_id", j.RequestID), attribute.String("sumprimes.lane", l.name.String()),
			attribute.String("sumprimes.engine", string(t.plan.Engine)),
			attribute.String("sumprimes.a", strconv.FormatUint(j.A, 10)), attribute.String("sumprimes.b", strconv.FormatUint(j.B, 10)))
	}
	opt := primes.Options{Threads: l.threads, Progress: tracker.report}
	if l.name != job.Light {
		opt = l.w.lightFirst.heavy(opt)
	}
	var (
		sum       primes.U128
		part      primes.Part
		err       error
		scattered bool
	)
	switch {
	case j.Task != nil:
		// A task's own progress is not its job's: the job's moves as
		// tasks' parts are stored.
		opt.Progress = nil
		part, err = j.Task.Piece.Run(t.ctx, opt)
	case l.w.scatter.of(t.plan) && l.w.tasks != nil:
		scattered = true
		err = l.scatterJob(t.ctx, j, t.plan, log)
	default:
		sum, err = t.plan.Run(t.ctx, opt)
	}
	tracker.stop()
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else if t.ctx.Err() != nil {
		span.SetStatus(codes.Error, context.Cause(t.ctx).Error())
	}
	span.End()
	switch {
	case context.Cause(t.ctx) == errCancelled:
		log.Info("job cancelled by its client; stopped")
		l.results <- outcome{msg: t.msg}
		return
	case t.ctx.Err() != nil:
		log.Info("job abandoned at shutdown; it will be delivered again")
		l.results <- outcome{msg: t.msg, abandon: true}
		return
	case err != nil:
		// The engines take every range Check passes, so this is a bug, and
		// one that would fail the same way every time: retrying would only
		// block the partition.
		l.reject(t.ctx, t.msg, err.Error(), true)
		return
	case scattered: // its tasks are published: the job message is done
		l.results <- outcome{msg: t.msg}
		return
	case j.Task != nil:
		elapsed := l.w.now().Sub(start)
		metrics.TaskSeconds.Observe(elapsed.Seconds())
		l.results <- outcome{msg: t.msg, part: &part, elapsed: elapsed}
		return
	}
	elapsed := l.w.now().Sub(start)
	metrics.ComputeSeconds.WithLabelValues(string(t.plan.Engine)).Observe(elapsed.Seconds())
	rec := j.Finished(sum.String(), l.w.now().UTC())
	l.results <- outcome{msg: t.msg, rec: &rec, elapsed: elapsed}
}

// reject sends a message that can never succeed to the dead-letter topic;
// it is done once that is written. With fail, the message is the accepted
// job itself, and its record becomes FAILED with the reason; otherwise no
// record is touched: a message cannot fail a job it merely names.
func (l *lane) reject(ctx context.Context, m queue.Message, reason string, fail bool) {
	l.log.Error("sending message to the dead-letter topic", "partition", m.Partition, "offset", m.Offset, "reason", reason)
	if !backoff.Retry(ctx, l.log, "dead-letter", func(ctx context.Context) error { return l.c.DeadLetter(ctx, m, reason) }) {
		l.results <- outcome{msg: m, abandon: true}
		return
	}
	o := outcome{msg: m}
	if fail {
		rec := m.Job.Failed(reason, l.w.now().UTC())
		o.rec = &rec
	}
	l.results <- o
}

// finish stores the results that gathered while it was busy in one round
// trip, calls back the clients that asked, then marks each message done.
func (l *lane) finish(work context.Context) {
	for first := range l.results {
		batch := gather(first, l.results)
		stored := l.store(work, batch)
		for _, o := range batch {
			if o.abandon || (o.rec != nil || o.part != nil) && !stored {
				<-l.window // not done: delivered again
			} else {
				l.done(o.msg)
			}
			if l.name == job.Light {
				l.w.lightFirst.end()
			}
		}
	}
}

// store writes the batch's final records, retrying until they are stored;
// it reports false if work ended first. A record that was final already
// (cancelled meanwhile) stays as it is, with no callback.
func (l *lane) store(work context.Context, batch []outcome) bool {
	for i := range batch {
		if o := &batch[i]; o.part != nil && !o.abandon {
			rec, ok := l.storePart(work, o.msg.Job, *o.part)
			if !ok {
				return false
			}
			o.rec = rec
		}
	}
	var recs []job.Record
	var elapsed []time.Duration
	for _, o := range batch {
		if o.rec != nil && !o.abandon {
			recs, elapsed = append(recs, *o.rec), append(elapsed, o.elapsed)
		}
	}
	if len(recs) == 0 {
		return true
	}
	var errs []error
	ok := backoff.Retry(work, l.log, "store results", func(ctx context.Context) (err error) {
		errs, err = l.w.store.PutAll(ctx, recs)
		return err
	})
	if !ok {
		return false
	}
	for i, rec := range recs {
		if errs[i] != nil {
			continue
		}
		l.w.callbacks.Send(rec)
		switch rec.Status {
		case job.Finished:
			l.log.Info("job done", "requestId", rec.RequestID, "a", rec.A, "b", rec.B, "engine", rec.Plan.Engine,
				"estimate", rec.Plan.Estimate.Round(time.Microsecond), "elapsed", elapsed[i].Round(time.Microsecond))
			metrics.JobsFinished.WithLabelValues(string(rec.Plan.Engine)).Inc()
			if !rec.CreatedAt.IsZero() {
				metrics.EndToEndSeconds.Observe(l.w.now().Sub(rec.CreatedAt).Seconds())
			}
		case job.Failed:
			metrics.JobsFailed.WithLabelValues("worker").Inc()
		}
	}
	return true
}

// done frees m's place in the window and, when every earlier message of
// its partition is done too, commits past it (the queue sends commits in
// the background: this does not wait for the broker).
func (l *lane) done(m queue.Message) {
	if last, ok := l.commits.finished(m); ok {
		if err := l.c.Commit(context.Background(), last); err != nil {
			l.log.Warn("commit failed; jobs may be delivered again", "partition", last.Partition, "offset", last.Offset, "error", err)
		}
	}
	<-l.window
}
