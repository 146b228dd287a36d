package store

import (
	"context"
	"fmt"
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
	// Speeds returns the speeds reported since the given time, by worker;
	// older reports are dropped.
	Speeds(ctx context.Context, since time.Time) (map[string]primes.Speed, error)
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

// Speeds reads the hash whole (a field a worker) and deletes the fields
// reported before since, and any it cannot read.
func (r *Redis) Speeds(ctx context.Context, since time.Time) (map[string]primes.Speed, error) {
	all, err := r.client.HGetAll(ctx, r.fleetKey()).Result()
	if err != nil {
		return nil, translate(err)
	}
	live := map[string]primes.Speed{}
	var stale []string
	for worker, v := range all {
		s, at, ok := parseSpeed(v)
		if !ok || at.Before(since) {
			stale = append(stale, worker)
			continue
		}
		live[worker] = s
	}
	if len(stale) > 0 {
		if err := r.client.HDel(ctx, r.fleetKey(), stale...).Err(); err != nil {
			return nil, translate(err)
		}
	}
	return live, nil
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

// Speeds returns the reports since the given time.
func (m *Memory) Speeds(_ context.Context, since time.Time) (map[string]primes.Speed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := map[string]primes.Speed{}
	for worker, r := range m.fleet {
		if r.at.Before(since) {
			delete(m.fleet, worker)
			continue
		}
		live[worker] = r.speed
	}
	return live, nil
}
