// Package backoff spaces out retries of a failing call.
package backoff

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Backoff waits exponentially longer after each failure, up to a ceiling,
// with full jitter so that many callers failing together do not retry in
// step. The zero value starts at 50 ms and stops growing at 5 s.
type Backoff struct {
	Base, Ceiling time.Duration
	n             int
}

// Reset starts over after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Wait sleeps for the next delay and reports false if ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool {
	base := b.Base
	if base <= 0 {
		base = 50 * time.Millisecond
	}
	ceiling := b.Ceiling
	if ceiling <= 0 {
		ceiling = 5 * time.Second
	}
	d := min(ceiling, base<<min(b.n, 20))
	b.n++
	t := time.NewTimer(base/2 + rand.N(d))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Retry calls f until it succeeds, logging each failure as "<what> failed"
// and backing off between tries; it reports false if ctx ended first.
func Retry(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) bool {
	var b Backoff
	for {
		err := f(ctx)
		if err == nil {
			return true
		}
		log.Warn(what+" failed; retrying", "error", err)
		if !b.Wait(ctx) {
			return false
		}
	}
}
