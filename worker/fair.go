package worker

import "sync"

// fair queues admitted jobs for the compute slots, one FIFO per client,
// served round robin: a client with a thousand jobs waiting gets one slot
// turn in each round, as does a client with one. (The lanes already keep
// light jobs from waiting behind heavy ones; this keeps one client from
// holding every slot of a lane while others wait.)
type fair struct {
	mu      sync.Mutex
	ready   *sync.Cond
	byOwner map[string][]*task
	ring    []string // owners with jobs waiting, in turn order
	next    int
	closed  bool
}

func newFair() *fair {
	f := &fair{byOwner: map[string][]*task{}}
	f.ready = sync.NewCond(&f.mu)
	return f
}

// push queues t behind its client's earlier jobs; false once closed.
func (f *fair) push(t *task) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	owner := t.msg.Job.Owner
	if len(f.byOwner[owner]) == 0 {
		f.ring = append(f.ring, owner)
	}
	f.byOwner[owner] = append(f.byOwner[owner], t)
	f.ready.Signal()
	return true
}

// pop blocks for the next job in turn; false once closed.
func (f *fair) pop() (*task, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.ring) == 0 && !f.closed {
		f.ready.Wait()
	}
	if f.closed {
		return nil, false
	}
	f.next %= len(f.ring)
	owner := f.ring[f.next]
	q := f.byOwner[owner]
	t := q[0]
	if len(q) == 1 {
		delete(f.byOwner, owner)
		f.ring = append(f.ring[:f.next], f.ring[f.next+1:]...)
	} else {
		f.byOwner[owner] = q[1:]
		f.next++
	}
	return t, true
}

// close wakes every pop and returns the jobs still waiting, which the
// caller abandons (uncommitted: they are delivered again).
func (f *fair) close() []*task {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	var left []*task
	for _, q := range f.byOwner {
		left = append(left, q...)
	}
	clear(f.byOwner)
	f.ring = nil
	f.ready.Broadcast()
	return left
}
