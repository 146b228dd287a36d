package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// Fleet keeps the engine speed each worker measured on its machine, so
// that the API can state its estimates in the fleet's seconds rather than
// in those of the machine the planner's tables came from.
type Fleet interface {
	// ReportSpeed records worker's speed as of at, replacing its last
	// report.
	ReportSpeed(ctx context.Context, worker string, s primes.Speed, at time.Time) error
	// FleetSpeed returns the median of the speeds reported since the
	// given time, each engine's on its own, and how many workers they came
	// from: primes.Reference and 0 when none did. Older reports are
	// dropped.
	FleetSpeed(ctx context.Context, since time.Time) (primes.Speed, int, error)
}

// median returns the median of the reports' speeds, engine by engine.
func median(reports []primes.Speed) primes.Speed {
	if len(reports) == 0 {
		return primes.Reference
	}
	mid := func(f func(primes.Speed) float64) float64 {
		v := make([]float64, len(reports))
		for i, r := range reports {
			v[i] = f(r)
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

// A worker reports its speed every SpeedReportEvery while it runs; a
// report older than SpeedStale is a worker gone.
const (
	SpeedReportEvery = time.Minute
	SpeedStale       = 3 * SpeedReportEvery
)

func (r *Redis) fleetKey() string { return r.prefix + "fleet:speed" }

// ReportSpeed sets the worker's field of one hash: "sieve prefix
// unix-milliseconds".
func (r *Redis) ReportSpeed(ctx context.Context, worker string, s primes.Speed, at time.Time) error {
	v := fmt.Sprintf("%g %g %d", s.Sieve, s.Prefix, at.UnixMilli())
	return translate(r.client.HSet(ctx, r.fleetKey(), worker, v).Err())
}

// FleetSpeed reads the hash whole (a field a worker) and deletes the
// fields reported before since, and any it cannot read.
func (r *Redis) FleetSpeed(ctx context.Context, since time.Time) (primes.Speed, int, error) {
	all, err := r.client.HGetAll(ctx, r.fleetKey()).Result()
	if err != nil {
		return primes.Reference, 0, translate(err)
	}
	var live []primes.Speed
	var stale []string
	for worker, v := range all {
		s, at, ok := parseSpeed(v)
		if !ok || at.Before(since) {
			stale = append(stale, worker)
			continue
		}
		live = append(live, s)
	}
	if len(stale) > 0 {
		if err := r.client.HDel(ctx, r.fleetKey(), stale...).Err(); err != nil {
			return primes.Reference, 0, translate(err)
		}
	}
	return median(live), len(live), nil
}

func parseSpeed(v string) (primes.Speed, time.Time, bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return primes.Speed{}, time.Time{}, false
	}
	sieve, err1 := strconv.ParseFloat(f[0], 64)
	prefix, err2 := strconv.ParseFloat(f[1], 64)
	ms, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || sieve <= 0 || prefix <= 0 {
		return primes.Speed{}, time.Time{}, false
	}
	return primes.Speed{Sieve: sieve, Prefix: prefix}, time.UnixMilli(ms), true
}

type speedReport struct {
	speed primes.Speed
	at    time.Time
}

// ReportSpeed records the worker's speed.
func (m *Memory) ReportSpeed(_ context.Context, worker string, s primes.Speed, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fleet[worker] = speedReport{s, at}
	return nil
}

// FleetSpeed returns the median of the reports since the given time.
func (m *Memory) FleetSpeed(_ context.Context, since time.Time) (primes.Speed, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var live []primes.Speed
	for worker, r := range m.fleet {
		if r.at.Before(since) {
			delete(m.fleet, worker)
			continue
		}
		live = append(live, r.speed)
	}
	return median(live), len(live), nil
}
