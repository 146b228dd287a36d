package worker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// lightFirst gives the light lane the CPUs before the heavy one
// (worker.light_first). The OS shares the cores among runnable threads, so
// while heavy jobs compute, each step of a light job (the store round trip
// that takes it, the one that stores its result, and Redis and Kafka
// serving them) waits its turn behind them: on two cores, tens of
// milliseconds at the tail. Two things take that away:
//
//   - a heavy job's engine runs on threads of its own under SCHED_IDLE
//     (primes.Options.Background), which Linux runs only when no other
//     thread wants the CPU, and
//   - while a light job is in this process, fetched and not yet done, the
//     heavy threads pause at their engine's next yield point (a fraction
//     of a millisecond apart), so that they hold neither a CPU nor its
//     caches while it goes through.
//
// A pause lasts at most maxPause (20 ms), and after one the heavy threads run for
// as long as they paused before they pause again: a steady stream of light
// jobs takes at most half of the heavy lane's time.
type lightFirst struct {
	on       bool
	maxPause time.Duration
	inFlight atomic.Int64
	runUntil atomic.Int64 // UnixNano before which the heavy threads do not pause

	mu   sync.Mutex
	idle chan struct{} // closed while no light job is in flight
}

func newLightFirst(on bool) *lightFirst {
	g := &lightFirst{on: on, maxPause: 20 * time.Millisecond, idle: make(chan struct{})}
	close(g.idle)
	return g
}

// heavy returns opt for a heavy job's engine.
func (g *lightFirst) heavy(opt primes.Options) primes.Options {
	if g.on {
		opt.Background, opt.Yield = true, g.yield
	}
	return opt
}

// begin notes a light job come in; end, one done.
func (g *lightFirst) begin() {
	if !g.on {
		return
	}
	g.mu.Lock()
	if g.inFlight.Add(1) == 1 {
		g.idle = make(chan struct{})
	}
	g.mu.Unlock()
}

func (g *lightFirst) end() {
	if !g.on {
		return
	}
	g.mu.Lock()
	if g.inFlight.Add(-1) == 0 {
		close(g.idle)
	}
	g.mu.Unlock()
}

// yield is the heavy engines' Options.Yield: it returns at once unless a
// light job is in flight.
func (g *lightFirst) yield() {
	if g.inFlight.Load() == 0 {
		return
	}
	start := time.Now()
	if start.UnixNano() < g.runUntil.Load() {
		return
	}
	g.mu.Lock()
	idle := g.idle
	g.mu.Unlock()
	t := time.NewTimer(g.maxPause)
	select {
	case <-idle:
	case <-t.C:
	}
	t.Stop()
	now := time.Now()
	g.runUntil.Store(now.Add(now.Sub(start)).UnixNano())
}
