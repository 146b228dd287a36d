package api

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// backlogGauge tells whether the queue's backlog is over its bound. A lag
// query costs broker round trips, and a slow broker must not hold up
// submits, so a loop reads it in the background (Serve runs it) and full
// only looks at the last value.
type backlogGauge struct {
	read  func(context.Context) (int64, error)
	max   int64
	every time.Duration
	last  atomic.Int64 // the last backlog read; -1 when that read failed
}

// full reports whether submits should wait. When the backlog could not be
// read, submits go on: publishing will tell whether Kafka is there.
func (g *backlogGauge) full() bool { return g.last.Load() > g.max }

// run reads the backlog every interval until ctx ends.
func (g *backlogGauge) run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(g.every)
	defer t.Stop()
	for {
		read, cancel := context.WithTimeout(ctx, 3*g.every)
		n, err := g.read(read)
		cancel()
		if err != nil {
			n = -1
			if ctx.Err() == nil {
				log.Warn("could not read the backlog", "error", err)
			}
		}
		g.last.Store(n)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
