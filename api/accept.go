package api

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// acceptor writes the records of concurrent submits in one store pipeline
// and publishes their jobs in one produce request per partition: group
// commit. No submit waits for a timer: the first to arrive when fewer than
// maxFlights batches are in flight leads a batch at once, and it takes
// every submit that gathered meanwhile; a leader that leaves submits
// waiting hands them to a new leader.
type acceptor struct {
	store   Store
	queue   Queue
	timeout time.Duration
	log     *slog.Logger

	// generation is the store's, as the last batch found it (a string):
	// records name it, and CreateAll says when it has changed.
	generation atomic.Value

	mu      sync.Mutex
	waiting []*submission
	flights int
}

// Batches bound: how many may be in flight at once, and how many jobs one
// carries. One flight at a time, as a database flushes its log: the
// submits that arrive during a flight's round trips (a millisecond or two)
// all go in the next, one pipeline and one record batch for them all. With
// four flights the batches were a quarter the size, and the broker, Redis
// and this process paid per batch: 20,000 submits from 64 clients went
// 11,000 → 12,600 a second with one, the closed loop of submit-and-wait
// 5,700–6,700 → 7,100–7,300, the open loop's POST p99 at 1,000 a second
// 5.1 → 6.8 ms.
const (
	maxFlights    = 1
	maxAcceptJobs = 256
)

type submission struct {
	j    job.Job
	done chan error // nil, errNotStored or a publish error
}

// errNotStored reports a record the store did not take: the job was not
// accepted, and nothing of it reached Kafka.
var errNotStored = errors.New("the record was not stored")

// errPublish wraps a publish the broker did not confirm: the record exists
// and the message may have reached Kafka.
type errPublish struct{ err error }

func (e errPublish) Error() string { return "publish: " + e.err.Error() }

// accept writes j's IN_PROGRESS record under the store's generation, then
// publishes j and waits for the broker's acknowledgement; it returns j as
// accepted (with that generation).
func (a *acceptor) accept(j job.Job) (job.Job, error) {
	sub := &submission{j: j, done: make(chan error, 1)}
	a.mu.Lock()
	a.waiting = append(a.waiting, sub)
	lead := a.flights < maxFlights
	if lead {
		a.flights++
	}
	a.mu.Unlock()
	if lead {
		a.lead()
	}
	err := <-sub.done // settle wrote sub.j before sending
	return sub.j, err
}

// lead takes one batch of the waiting submits and settles it; if more are
// waiting, a new leader takes them, so that this submit's answer does not
// wait for theirs.
func (a *acceptor) lead() {
	a.mu.Lock()
	n := min(len(a.waiting), maxAcceptJobs)
	batch := a.waiting[:n:n]
	a.waiting = a.waiting[n:]
	a.mu.Unlock()
	a.settle(batch)
	a.mu.Lock()
	if len(a.waiting) > 0 {
		go a.lead() // this flight goes on
	} else {
		a.flights--
	}
	a.mu.Unlock()
}

// settle accepts a batch: the records (in one round trip with the store's
// generation), then the jobs.
func (a *acceptor) settle(batch []*submission) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	fail := func(err error) {
		for _, s := range batch {
			s.done <- err
		}
	}
	gen, ok := a.generation.Load().(string)
	if !ok { // the first batch: read it
		var err error
		if gen, err = a.store.Generation(ctx); err != nil {
			a.log.Error("read store generation", "error", err)
			fail(errNotStored)
			return
		}
	}
	recs := make([]job.Record, len(batch))
	for i, s := range batch {
		if len(batch) > 1 {
			s.j.Batch = batch[0].j.RequestID
		}
		s.j.Generation = gen
		recs[i] = job.Pending(s.j)
	}
	errs, current, err := a.store.CreateAll(ctx, recs)
	if err != nil {
		a.log.Error("store records", "jobs", len(batch), "error", err)
		fail(errNotStored)
		return
	}
	a.generation.Store(current)
	var jobs []job.Job
	var stored []*submission
	for i, s := range batch {
		if errs[i] == nil && current != gen {
			// The store was wiped since gen was read: the record and the job
			// must name the store's generation now.
			s.j.Generation = current
			errs[i] = a.store.Put(ctx, job.Pending(s.j))
		}
		if errs[i] != nil {
			a.log.Error("store record", "requestId", s.j.RequestID, "error", errs[i])
			s.done <- errNotStored
			continue
		}
		jobs, stored = append(jobs, s.j), append(stored, s)
	}
	if len(jobs) == 0 {
		return
	}
	for i, err := range a.queue.PublishAll(ctx, jobs) {
		if err != nil {
			a.log.Error("publish job", "requestId", jobs[i].RequestID, "error", err)
			stored[i].done <- errPublish{err}
			continue
		}
		stored[i].done <- nil
	}
}
