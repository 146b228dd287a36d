// Package role holds the start-up steps the background roles (worker and
// janitor) share: connect to Redis and Kafka, wait for the topics, and
// serve /metrics, /healthz and /readyz beside the work.
package role

import (
	"context"
	"errors"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Conns are a role's connections.
type Conns struct {
	Redis redis.UniversalClient
	Store *store.Redis
	Queue *queue.Kafka
}

// Connect opens the clients and waits until the topics exist, retrying
// while the broker boots; it fails only when ctx ends first.
func Connect(ctx context.Context, cfg config.Config, log *slog.Logger) (*Conns, error) {
	rdb := store.NewClient(cfg.Redis)
	q := queue.New(cfg.Kafka, log)
	if err := q.EnsureTopic(ctx); err != nil {
		q.Close()
		rdb.Close()
		return nil, err
	}
	return &Conns{Redis: rdb, Store: store.NewRedis(rdb, cfg.Redis.KeyPrefix, cfg.Result.TTL), Queue: q}, nil
}

// Start connects (see Connect) and serves /metrics, /healthz and /readyz
// on cfg.Metrics.Addr. It returns nil Conns and a nil error when ctx ended
// while connecting: a shutdown then, not a failure.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*Conns, error) {
	c, err := Connect(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	c.ServeOps(ctx, cfg.Metrics.Addr, log)
	return c, nil
}

// Close flushes and closes the Kafka writers, then the Redis client.
func (c *Conns) Close() {
	c.Queue.Close()
	c.Redis.Close()
}

// ServeOps serves /metrics, /healthz and /readyz (ready while Redis and
// Kafka answer) on addr, in the background, until ctx ends.
func (c *Conns) ServeOps(ctx context.Context, addr string, log *slog.Logger) {
	ready := func(ctx context.Context) error { return errors.Join(c.Store.Ping(ctx), c.Queue.Ping(ctx)) }
	go func() {
		if err := metrics.Serve(ctx, addr, ready, log); err != nil {
			log.Error("metrics server", "error", err)
		}
	}()
}
