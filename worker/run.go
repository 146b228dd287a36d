package worker

import (
	"context"
	"log/slog"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/role"
)

// Run is the worker role's start-up path, shared by `sumprimes worker` and
// `sumprimes dev`: it waits for the topic, then consumes until ctx ends.
//
// Shutdown order: members stop fetching, finish or abandon (uncommitted) the
// jobs in flight within worker.drain_timeout and close their readers
// (leaving the group); then the Kafka writers and the Redis client close.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	conns, err := role.Start(ctx, cfg, log)
	if conns == nil {
		return err // nil when ctx ended while connecting
	}
	defer conns.Close()
	metrics.RegisterLag(conns.Queue.Lag)
	w := New(Config{
		Store:         conns.Store,
		Cancellations: conns.Store.Cancellations(ctx),
		Callbacks:     callback.FromConfig(cfg.Callbacks, log),
		NewConsumer:   conns.Queue.Consumer,
		Concurrency:   cfg.Worker.Concurrency,
		Threads:       cfg.Worker.Threads,
		DrainTimeout:  cfg.Worker.DrainTimeout,
		LeaseTTL:      cfg.Worker.LeaseTTL,
		Log:           log,
	})
	log.Info("worker consuming", "topic", cfg.Kafka.Topic, "group", cfg.Kafka.Group, "members", cfg.Worker.Concurrency, "threads", w.threads)
	return w.Run(ctx)
}
