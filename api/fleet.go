package api

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// fleetSpeed is how fast the workers are, as they measured themselves at
// start (store.Fleet): the planner's tables are one reference machine's,
// and a job's estimate, in its record and in the Retry-After hints drawn
// from it and in the backlog the autoscaler reads, is meant in the seconds
// of the machines that will compute it. Like the backlog gauge, a loop
// reads it in the background and submits only look at the last value:
// the reference speed until a worker has reported. The limits (max_cost)
// and the lanes (heavy_from) stay in reference seconds, so that what is
// accepted, and where it goes, does not change with the fleet.
type fleetSpeed struct {
	read  func(ctx context.Context, since time.Time) (map[string]primes.Speed, error)
	now   func() time.Time
	every time.Duration
	speed atomic.Pointer[primes.Speed]
}

// get returns the fleet's speed as last read.
func (f *fleetSpeed) get() primes.Speed {
	if f == nil {
		return primes.Reference
	}
	if s := f.speed.Load(); s != nil {
		return *s
	}
	return primes.Reference
}

// run reads the fleet's speed every interval until ctx ends; a read that
// fails keeps the last one.
func (f *fleetSpeed) run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		read, cancel := context.WithTimeout(ctx, f.every)
		speeds, err := f.read(read, f.now().Add(-store.SpeedStale))
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("could not read the workers' speed", "error", err)
		case err == nil:
			s := median(speeds)
			f.speed.Store(&s)
			metrics.FleetSpeed.WithLabelValues(string(primes.Sieve)).Set(s.Sieve)
			metrics.FleetSpeed.WithLabelValues(string(primes.Prefix)).Set(s.Prefix)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// median returns the median of the workers' speeds, each engine's on its
// own (one slow machine among many moves no estimate), or the reference
// speed when there are none.
func median(speeds map[string]primes.Speed) primes.Speed {
	if len(speeds) == 0 {
		return primes.Reference
	}
	mid := func(of func(primes.Speed) float64) float64 {
		var v []float64
		for _, s := range speeds {
			v = append(v, of(s))
		}
		slices.Sort(v)
		n := len(v)
		return (v[(n-1)/2] + v[n/2]) / 2
	}
	return primes.Speed{
		Sieve:  mid(func(s primes.Speed) float64 { return s.Sieve }),
		Prefix: mid(func(s primes.Speed) float64 { return s.Prefix }),
	}
}
