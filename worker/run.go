package worker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Run is the worker role's start-up path, shared by `sumprimes worker` and
// `sumprimes dev`: it waits for the topic, then consumes until ctx ends.
//
// Shutdown order: members stop fetching, finish or abandon (uncommitted) the
// jobs in flight within worker.drain_timeout and close their readers
// (leaving the group); then the Kafka writers and the Redis client close.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	rdb := store.NewClient(cfg.Redis)
	defer rdb.Close()
	q := queue.New(cfg.Kafka, log)
	defer q.Close()
	if err := q.EnsureTopic(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	st := store.NewRedis(rdb, cfg.Redis.KeyPrefix, cfg.Result.TTL)
	w := New(Config{
		Store:         st,
		Cancellations: st.Cancellations(ctx),
		Callbacks:     callback.FromConfig(cfg.Callbacks, log),
		NewConsumer:   q.Consumer,
		Concurrency:   cfg.Worker.Concurrency,
		Threads:       cfg.Worker.Threads,
		DrainTimeout:  cfg.Worker.DrainTimeout,
		LeaseTTL:      cfg.Worker.LeaseTTL,
		Log:           log,
	})
	metrics.RegisterLag(q.Lag)
	go func() {
		ready := func(ctx context.Context) error { return errors.Join(st.Ping(ctx), q.Ping(ctx)) }
		if err := metrics.Serve(ctx, cfg.Metrics.Addr, ready, log); err != nil {
			log.Error("metrics server", "error", err)
		}
	}()
	log.Info("worker consuming", "topic", cfg.Kafka.Topic, "group", cfg.Kafka.Group, "members", cfg.Worker.Concurrency, "threads", w.threads)
	return w.Run(ctx)
}
