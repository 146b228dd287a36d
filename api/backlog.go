package api

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// backlogGauge tells whether the queue's backlog is over its bound, reading
// it at most once per interval: a consumer-group lag query costs two broker
// round trips, too much for every submit.
type backlogGauge struct {
	read  func(context.Context) (int64, error)
	max   int64
	every time.Duration

	mu     sync.Mutex
	at     time.Time
	last   int64
	failed bool
}

// full reports whether submits should wait. When the backlog cannot be
// read, submits go on: publishing will tell whether Kafka is there.
func (g *backlogGauge) full(ctx context.Context, log *slog.Logger) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.at) >= g.every {
		n, err := g.read(ctx)
		g.at, g.failed = time.Now(), err != nil
		if err != nil {
			log.Warn("could not read the backlog", "error", err)
		} else {
			g.last = n
		}
	}
	return !g.failed && g.last > g.max
}
