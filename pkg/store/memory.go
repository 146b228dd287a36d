package store

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sumprimes/sumprimes/pkg/job"
)

var _ Store = (*Memory)(nil)

// Memory is a Store in this process, for tests that need no Redis. It keeps
// Redis's rules (storetest holds both to them): the first final record
// stands, a rejected job's tombstone is seen by no one, pending records
// never expire and final ones do after the TTL, on Memory's clock.
type Memory struct {
	ttl time.Duration
	now func() time.Time

	mu         sync.Mutex
	generation string
	records    map[string]entry // job records; final ones expire
	progress   map[string]float64
	tasks      map[string]*memoryTasks // scattered jobs'
	pending    map[string]time.Time    // the index: when each was last seen alive
	attempts   map[string]int
	leases     map[string]lease
	claims     map[string]claimEntry
	lock       struct {
		owner string
		until time.Time
	}
	backlog    map[string]backlogEntry
	fleet      map[string]speedReport // by worker
	changeSubs map[chan Change]struct{}
	cancelSubs map[chan string]struct{}
}

type backlogEntry struct {
	lane     job.Lane
	estimate time.Duration
}

// lease is a worker's hold on a running job.
type lease struct {
	owner string
	until time.Time
}

type entry struct {
	rec     job.Record
	expires time.Time // zero: never
}

type claimEntry struct {
	claim   Claim
	expires time.Time
}

// NewMemory returns an empty Memory whose final records live for ttl, as
// told by now (time.Now when nil).
func NewMemory(ttl time.Duration, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{
		ttl: ttl, now: now,
		records: map[string]entry{}, progress: map[string]float64{}, tasks: map[string]*memoryTasks{}, pending: map[string]time.Time{},
		attempts: map[string]int{}, leases: map[string]lease{}, claims: map[string]claimEntry{},
		backlog: map[string]backlogEntry{}, fleet: map[string]speedReport{}, changeSubs: map[chan Change]struct{}{}, cancelSubs: map[chan string]struct{}{},
	}
}

// TTL returns how long the record for id has left to live: -1 for a
// record that never expires, 0 for none.
func (m *Memory) TTL(id string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.record(id)
	switch {
	case !ok:
		return 0
	case e.expires.IsZero():
		return -1
	}
	return e.expires.Sub(m.now())
}

// record returns the live record for id; the caller holds mu.
func (m *Memory) record(id string) (entry, bool) {
	e, ok := m.records[id]
	if ok && !e.expires.IsZero() && !m.now().Before(e.expires) {
		delete(m.records, id)
		return entry{}, false
	}
	return e, ok
}

func (m *Memory) Create(_ context.Context, rec job.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[rec.RequestID] = rec.CreatedAt
	if _, ok := m.backlog[rec.RequestID]; !ok {
		m.backlog[rec.RequestID] = backlogEntry{rec.Lane, rec.Planned().Estimate}
	}
	if _, ok := m.record(rec.RequestID); ok {
		return ErrExists
	}
	m.records[rec.RequestID] = entry{rec: rec}
	return nil
}

func (m *Memory) Put(_ context.Context, rec job.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !rec.Status.Final() {
		m.records[rec.RequestID] = entry{rec: rec}
		return nil
	}
	cur, ok := m.record(rec.RequestID)
	written := !ok || cur.rec.Status == job.InProgress
	m.settle(rec.RequestID, false)
	if written {
		m.records[rec.RequestID] = entry{rec: rec, expires: m.now().Add(m.ttl)}
		m.announce(Change{ID: rec.RequestID, Record: &rec})
	}
	if !written {
		return ErrFinal
	}
	return nil
}

// CreateAll creates each record as Create does.
func (m *Memory) CreateAll(ctx context.Context, recs []job.Record) ([]error, string, error) {
	gen, _ := m.Generation(ctx)
	errs := make([]error, len(recs))
	for i, rec := range recs {
		errs[i] = m.Create(ctx, rec)
	}
	return errs, gen, nil
}

// PutAll writes each final record as Put does.
func (m *Memory) PutAll(ctx context.Context, recs []job.Record) ([]error, error) {
	errs := make([]error, len(recs))
	for i, rec := range recs {
		if !rec.Status.Final() {
			return nil, errors.New("store: PutAll takes final records")
		}
		errs[i] = m.Put(ctx, rec)
	}
	return errs, nil
}

// Take reads and leases each id as Get and Lease do.
func (m *Memory) Take(ctx context.Context, ids []string, owner string, ttl time.Duration) ([]Found, string, error) {
	gen, _ := m.Generation(ctx)
	found := make([]Found, len(ids))
	for i, id := range ids {
		m.lease(id, owner, ttl)
		found[i].Record, found[i].Err = m.Get(ctx, id)
		found[i].Record.Progress = nil
	}
	return found, gen, nil
}

func (m *Memory) Backlog(context.Context) (map[job.Lane]time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[job.Lane]time.Duration{}
	for _, lane := range job.Lanes {
		out[lane] = 0
	}
	for _, e := range m.backlog {
		out[e.lane] += e.estimate
	}
	return out, nil
}

// settle takes a job that reached its final state out of the index and
// the backlog, ends its lease and progress, and, with announce, tells
// whoever waits on it; the caller holds mu.
func (m *Memory) settle(id string, announce bool) {
	delete(m.pending, id)
	delete(m.attempts, id)
	delete(m.leases, id)
	delete(m.progress, id)
	delete(m.backlog, id)
	delete(m.tasks, id)
	if announce {
		m.announce(Change{ID: id})
	}
}

// announce hands c to the subscribers of changes, dropping it for one that
// is behind, as Redis pub/sub may; the caller holds mu.
func (m *Memory) announce(c Change) {
	for ch := range m.changeSubs {
		select {
		case ch <- c:
		default:
		}
	}
}

func (m *Memory) Get(_ context.Context, id string) (job.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.record(id)
	if !ok || e.rec.Status == job.Rejected {
		return job.Record{}, ErrNotFound
	}
	rec := e.rec
	if f, ok := m.progress[id]; ok && rec.Status == job.InProgress {
		rec.Progress = &f
	}
	if ts := m.tasks[id]; ts != nil && rec.Status == job.InProgress {
		rec.Tasks, rec.TasksDone = ts.n, len(ts.parts)
	}
	return rec, nil
}

func (m *Memory) Cancel(_ context.Context, id string) (job.Record, error) {
	return m.end(id, job.Record.Cancelled)
}

func (m *Memory) Reject(_ context.Context, id string) (job.Record, error) {
	return m.end(id, job.Record.Rejected)
}

// end replaces an IN_PROGRESS record with final(record, now), tells any
// worker computing it to stop, and settles it.
func (m *Memory) end(id string, final func(job.Record, time.Time) job.Record) (job.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.record(id)
	switch {
	case !ok || e.rec.Status == job.Rejected:
		return job.Record{}, ErrNotFound
	case e.rec.Status.Final():
		return e.rec, ErrFinal
	}
	ended := final(e.rec, m.now().UTC())
	m.records[id] = entry{rec: ended, expires: m.now().Add(m.ttl)}
	for ch := range m.cancelSubs {
		select {
		case ch <- id:
		default:
		}
	}
	m.settle(id, false)
	if ended.Status == job.Cancelled {
		m.announce(Change{ID: id, Record: &ended})
	} else {
		m.announce(Change{ID: id})
	}
	return ended, nil
}

func (m *Memory) Generation(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.generation == "" {
		m.generation = uuid.NewString()
	}
	return m.generation, nil
}

// Wipe forgets everything, as a Redis that lost its data would.
func (m *Memory) Wipe() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation = ""
	clear(m.records)
	clear(m.progress)
	clear(m.tasks)
	clear(m.pending)
	clear(m.attempts)
	clear(m.leases)
	clear(m.claims)
	clear(m.fleet)
	m.lock.owner = ""
}

func (m *Memory) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, id)
	m.settle(id, true)
	return nil
}

func (m *Memory) lease(id, owner string, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leases[id] = lease{owner, m.now().Add(ttl)}
}

func (m *Memory) SetProgress(_ context.Context, id string, fraction float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.progress[id] = fraction
	m.announce(Change{ID: id})
	return nil
}

func (m *Memory) Claim(_ context.Context, key string, c Claim) (Claim, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if held, ok := m.claims[key]; ok && m.now().Before(held.expires) {
		return held.claim, false, nil
	}
	m.claims[key] = claimEntry{claim: c, expires: m.now().Add(m.ttl)}
	return c, true, nil
}

func (m *Memory) Unclaim(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims, key)
	return nil
}

func (m *Memory) Stale(_ context.Context, before time.Time, limit int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, seen := range m.pending {
		if seen.UnixMilli() <= before.UnixMilli() {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { // as a sorted set orders them
		return cmp.Or(m.pending[a].Compare(m.pending[b]), cmp.Compare(a, b))
	})
	return ids[:min(limit, len(ids))], nil
}

func (m *Memory) Touch(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pending[id]; ok {
		m.pending[id] = at
	}
	return nil
}

func (m *Memory) Forget(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settle(id, true)
	return nil
}

func (m *Memory) Leased(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[id]
	return ok && m.now().Before(l.until), nil
}

func (m *Memory) Attempt(_ context.Context, id string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts[id]++
	return m.attempts[id], nil
}

func (m *Memory) Pending(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.pending)), nil
}

func (m *Memory) Lead(_ context.Context, owner string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lock.owner != owner && m.now().Before(m.lock.until) {
		return false, nil
	}
	m.lock.owner, m.lock.until = owner, m.now().Add(ttl)
	return true, nil
}

func (m *Memory) Resign(_ context.Context, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lock.owner == owner {
		m.lock.owner, m.lock.until = "", time.Time{}
	}
	return nil
}

func (m *Memory) Ping(context.Context) error { return nil }

func (m *Memory) Changes(ctx context.Context) <-chan Change {
	return subscribe(ctx, &m.mu, m.changeSubs)
}

func (m *Memory) Cancellations(ctx context.Context) <-chan string {
	return subscribe(ctx, &m.mu, m.cancelSubs)
}

// subscribe registers a channel in subs until ctx ends; it is closed then.
func subscribe[T any](ctx context.Context, mu *sync.Mutex, subs map[chan T]struct{}) <-chan T {
	ch := make(chan T, 256)
	mu.Lock()
	subs[ch] = struct{}{}
	mu.Unlock()
	go func() {
		<-ctx.Done()
		mu.Lock()
		delete(subs, ch)
		close(ch)
		mu.Unlock()
	}()
	return ch
}
