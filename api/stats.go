package api

import (
	"slices"
	"sync"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// statsMinutes is how far back the throughput figures reach.
const statsMinutes = 15

// latencySamples bounds the end-to-end latencies kept per minute; past it
// a sample replaces a random earlier one (a reservoir), so percentiles stay
// fair at any rate.
const latencySamples = 2048

// stats counts the jobs that reached each final state, minute by minute,
// with their end-to-end latencies, from the final records the store
// announces (the change hub's feed): every replica hears every announcement,
// so each keeps the whole service's figures at no cost to Redis, from the
// time it started. Announcements missed while Redis was unreachable are
// missing here too.
type stats struct {
	mu      sync.Mutex
	minutes [statsMinutes + 1]minuteStats
	seen    uint64 // samples offered, for the reservoir
	rand    func(n uint64) uint64
}

type minuteStats struct {
	start     int64 // unix minute
	counts    map[job.Status]int
	latencies []float64
}

// minuteView is one minute as GET /admin/stats shows it.
type minuteView struct {
	Start     time.Time          `json:"start"`
	Counts    map[job.Status]int `json:"counts"`
	PerSecond float64            `json:"finishedPerSecond"`
	P50       *float64           `json:"p50Seconds,omitempty"`
	P99       *float64           `json:"p99Seconds,omitempty"`
}

func newStats() *stats {
	var x uint64 = 0x9E3779B97F4A7C15
	return &stats{rand: func(n uint64) uint64 { // xorshift: no lock contention with math/rand's
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x % n
	}}
}

// observe counts a final record announced at now.
func (st *stats) observe(rec *job.Record, now time.Time) {
	if rec == nil || !rec.Status.Final() || rec.Status == job.Rejected {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.minute(now)
	m.counts[rec.Status]++
	if rec.Status != job.Finished || rec.FinishedAt == nil {
		return
	}
	latency := rec.FinishedAt.Sub(rec.CreatedAt).Seconds()
	st.seen++
	if len(m.latencies) < latencySamples {
		m.latencies = append(m.latencies, latency)
	} else if i := st.rand(st.seen); i < latencySamples {
		m.latencies[i] = latency
	}
}

// minute returns now's slot, emptied if it held an older minute.
func (st *stats) minute(now time.Time) *minuteStats {
	unix := now.Unix() / 60
	m := &st.minutes[unix%int64(len(st.minutes))]
	if m.start != unix {
		*m = minuteStats{start: unix, counts: map[job.Status]int{}}
	}
	return m
}

// view returns the last statsMinutes minutes up to now, oldest first, the
// current one partial.
func (st *stats) view(now time.Time) []minuteView {
	st.mu.Lock()
	defer st.mu.Unlock()
	unix := now.Unix() / 60
	out := make([]minuteView, 0, statsMinutes)
	for u := unix - statsMinutes + 1; u <= unix; u++ {
		v := minuteView{Start: time.Unix(u*60, 0).UTC(), Counts: map[job.Status]int{job.Finished: 0, job.Failed: 0, job.Cancelled: 0}}
		if m := st.minutes[u%int64(len(st.minutes))]; m.start == u {
			for status, n := range m.counts {
				v.Counts[status] = n
			}
			seconds := 60.0
			if u == unix {
				seconds = max(1, float64(now.Unix()%60))
			}
			v.PerSecond = float64(m.counts[job.Finished]) / seconds
			if len(m.latencies) > 0 {
				sorted := slices.Sorted(slices.Values(m.latencies))
				v.P50, v.P99 = ptr(quantile(sorted, 0.5)), ptr(quantile(sorted, 0.99))
			}
		}
		out = append(out, v)
	}
	return out
}

func quantile(sorted []float64, q float64) float64 {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ptr[T any](v T) *T { return &v }
