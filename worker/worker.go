// Package worker computes jobs. A worker process consumes one or both cost
// lanes (job.Lane), each as one member of that lane's Kafka consumer group.
// A lane fetches ahead (up to Prefetch messages), reads and leases each
// batch of jobs in one store round trip, computes them side by side in a
// fixed number of slots, served round robin across clients, and stores the
// results in batches. Messages finish in any order; the committed offset
// only moves past messages whose results are all stored (see commits), so
// a crash anywhere means redelivery (at least once), and storing the same
// result twice is harmless.
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
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Store is what the worker needs of the result store: the records, the
// lease and progress of the jobs it computes, and scattered jobs' parts.
type Store interface {
	store.Records
	store.Progress
	store.Tasks
}

// TaskQueue is where a worker publishes the tasks of the jobs it scatters.
type TaskQueue interface {
	PublishAll(ctx context.Context, jobs []job.Job) []error
}

var _ TaskQueue = (*queue.Kafka)(nil)

// Scatter says which jobs are cut into tasks (see Config.Scatter).
type Scatter struct {
	Threshold time.Duration // 0: none
	TaskCost  time.Duration
}

// of reports whether plan is scattered.
func (s Scatter) of(plan primes.Plan) bool {
	return s.Threshold > 0 && s.TaskCost > 0 && plan.Estimate >= s.Threshold
}

var _ Store = store.Store(nil)

// Worker runs one consumer-group member per lane until its context ends.
type Worker struct {
	owner        string // names this process in leases
	limits       job.Limits
	leaseTTL     time.Duration
	store        Store
	newConsumer  func(job.Lane) queue.Consumer
	lanes        []job.Lane
	slots        map[job.Lane]int // jobs computed at once, per lane
	threads      int              // a heavy job's threads; light jobs use one
	lightFirst   *lightFirst      // the light lane's claim on the CPUs
	prefetch     int
	drainTimeout time.Duration
	log          *slog.Logger
	tracer       trace.Tracer
	now          func() time.Time

	scatter Scatter
	tasks   TaskQueue

	cancellations <-chan string
	callbacks     *callback.Sender
	mu            sync.Mutex
	running       map[string]*task // jobs and tasks admitted here and not yet done, by Job.Key
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
	// NewConsumer returns a fresh member of a lane's consumer group; it is
	// called once per lane.
	NewConsumer func(job.Lane) queue.Consumer
	// Lanes are the lanes to consume (job.Tasks among them for scattered
	// jobs' tasks); empty means all three.
	Lanes []job.Lane
	// Concurrency is how many heavy jobs run at once, each on Threads
	// threads; LightConcurrency how many light jobs, on one thread each.
	Concurrency      int
	LightConcurrency int
	// Threads is how many goroutines one heavy job's engine uses; 0 shares
	// GOMAXPROCS among the heavy slots.
	Threads int
	// LightFirst gives the light lane the CPUs before the heavy one: see
	// lightFirst.
	LightFirst bool
	// Prefetch bounds the messages a lane holds fetched and not yet done:
	// how far it reads ahead of its slowest job.
	Prefetch int
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
	// Scatter cuts a job the planner expects to take at least
	// Scatter.Threshold (one core) into tasks of about Scatter.TaskCost,
	// published to Tasks, for any worker's task lane to compute: one task
	// a slot, on one thread, with as many slots as the heavy lane has
	// threads. A zero Threshold computes every job whole.
	Scatter Scatter
	Tasks   TaskQueue
	// Tracer makes a span of each computation, a child of the submit's
	// span when the job's message carries its trace context; nil traces
	// nothing.
	Tracer trace.Tracer
	Log    *slog.Logger
}

// New returns a Worker for cfg.
func New(cfg Config) *Worker {
	heavy, light := max(1, cfg.Concurrency), max(1, cmp.Or(cfg.LightConcurrency, 4*runtime.GOMAXPROCS(0)))
	threads := cfg.Threads
	if threads == 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/heavy)
	}
	lanes := cfg.Lanes
	if len(lanes) == 0 {
		lanes = job.Queues
	}
	return &Worker{
		owner:        cfg.Owner,
		limits:       cfg.Limits,
		leaseTTL:     cfg.LeaseTTL,
		store:        cfg.Store,
		newConsumer:  cfg.NewConsumer,
		lanes:        lanes,
		slots:        map[job.Lane]int{job.Light: light, job.Heavy: heavy, job.Tasks: heavy * threads},
		threads:      threads,
		prefetch:     max(1, cmp.Or(cfg.Prefetch, 256)),
		drainTimeout: cfg.DrainTimeout,
		log:          cfg.Log,
		tracer:       cmp.Or[trace.Tracer](cfg.Tracer, noop.Tracer{}),
		now:          time.Now,

		scatter:       cfg.Scatter,
		tasks:         cfg.Tasks,
		cancellations: cfg.Cancellations,
		callbacks:     cfg.Callbacks,
		running:       map[string]*task{},
		lightFirst:    newLightFirst(cfg.LightFirst),
	}
}

// Run consumes until ctx is cancelled.
//
// Shutdown order: when ctx ends, lanes stop fetching and drop the jobs
// they have not started (uncommitted: they are delivered again); jobs
// computing get DrainTimeout to compute, store and commit, after which
// they are abandoned uncommitted too; then each lane closes its reader,
// leaving the group at once so its partitions move without waiting for a
// session timeout.
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
	// A heavy job's (or a task's) goroutines hold their Ps for its whole
	// length, and Go preempts them only every 10 ms: with no P left, a
	// light job or a store round trip of this process would wait that long
	// at each step. One more P per heavy thread, and the rest always finds
	// one; the OS then shares the CPUs among the threads.
	extra := 0
	if slices.Contains(w.lanes, job.Heavy) {
		extra += w.slots[job.Heavy] * w.threads
	}
	if slices.Contains(w.lanes, job.Tasks) {
		extra += w.slots[job.Tasks]
	}
	if extra > 0 {
		procs := runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(procs + extra)
		defer runtime.GOMAXPROCS(procs)
	}
	var wg sync.WaitGroup
	for _, name := range w.lanes {
		wg.Go(func() { w.runLane(ctx, work, name) })
	}
	wg.Wait()
	return nil
}

// watchCancellations stops the jobs admitted here whose clients cancel.
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
			here := 0
			for _, t := range w.running { // a scattered job's tasks too
				if t.msg.Job.RequestID == id {
					t.cancel(errCancelled)
					here++
				}
			}
			w.log.Debug("cancellation announced", "requestId", id, "here", here)
			w.mu.Unlock()
		}
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

// verdictOf decides for j from what Take found under generation gen.
func verdictOf(j job.Job, f store.Found, gen string) (verdict, string) {
	rec := f.Record
	switch {
	case errors.Is(f.Err, store.ErrNotFound):
		if j.Generation == "" || j.Generation == gen {
			return unowed, "it has no record: the API never accepted it, withdrew it, or its result expired"
		}
		return compute, "" // accepted before the store was wiped: still owed
	case !rec.Same(j):
		return poison, fmt.Sprintf("the message asks for [%d, %d] but request %s is [%d, %d]", j.A, j.B, rec.RequestID, rec.A, rec.B)
	case rec.Status.Final():
		return final, "it is " + string(rec.Status) + " already"
	}
	return compute, ""
}

// admitted reads j's record again (as a lease renewal does) and reports
// whether it is still to be computed; an error means the store could not
// say.
func (w *Worker) admitted(ctx context.Context, j job.Job) (bool, error) {
	found, gen, err := w.store.Take(ctx, []string{j.RequestID}, w.owner, w.leaseTTL)
	if err != nil {
		return false, err
	}
	if found[0].Err != nil && !errors.Is(found[0].Err, store.ErrNotFound) {
		return false, found[0].Err
	}
	v, _ := verdictOf(j, found[0], gen)
	return v == compute, nil
}

// tracker keeps a running job visible: it renews the job's lease, so that
// the janitor can tell a long job from a lost one, and publishes its
// progress a few times per second at most, whatever the engine reports.
type tracker struct {
	progress atomic.Uint64 // math.Float64bits of the latest fraction
	done     chan struct{}
	stopped  chan struct{} // closed when the loop the first beat started is over
	first    *time.Timer
}

// report records the engine's progress; it is called from the engine's
// goroutines and only stores a number.
func (t *tracker) report(f float64) { t.progress.Store(math.Float64bits(f)) }

// stop ends the tracking; once it returns, nothing more is written for the
// job.
func (t *tracker) stop() {
	close(t.done)
	if !t.first.Stop() { // the loop started, or is starting: wait for it
		<-t.stopped
	}
}

// progressEvery spaces progress writes: a few per second at most.
const progressEvery = 250 * time.Millisecond

func (w *Worker) hold(ctx context.Context, j job.Job, admittedAt time.Time, cancel context.CancelCauseFunc, log *slog.Logger) *tracker {
	t := &tracker{done: make(chan struct{}), stopped: make(chan struct{})}
	id := j.RequestID
	// Each renewal (a Take) also reads the record again: a cancellation whose
	// announcement was missed (pub/sub does not queue) still stops the job.
	renew := func() {
		if ok, err := w.admitted(ctx, j); err == nil && !ok {
			cancel(errCancelled)
		} else if err != nil && ctx.Err() == nil {
			log.Warn("lease not renewed", "error", err)
		}
	}
	if time.Since(admittedAt) >= w.leaseTTL/3 {
		renew() // it waited for a slot: the lease its admission took is getting old
	}
	lastRenew, sent := time.Now(), uint64(0)
	beat := func(now time.Time) {
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
	// The first beat is a timer's, which starts the loop: a job done
	// sooner, as most are, costs no goroutine and no ticker.
	t.first = time.AfterFunc(progressEvery, func() {
		defer close(t.stopped)
		select {
		case <-t.done: // it ended as the timer fired
			return
		default:
		}
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for now := time.Now(); ; {
			beat(now)
			select {
			case <-t.done:
				return
			case <-ctx.Done():
				return
			case now = <-tick.C:
			}
		}
	})
	return t
}

// Threads returns how many threads each heavy job's engine uses.
func (w *Worker) Threads() int { return w.threads }
