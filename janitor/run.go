package janitor

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

// Run is the janitor role's start-up path, shared by `sumprimes janitor`
// and `sumprimes dev`: it waits for the topics, then works until ctx ends.
//
// Shutdown order: the dead-letter reader leaves its group, the lock is
// freed, then the Kafka writers and the Redis client close.
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
	j := New(Config{
		Store:       st,
		Queue:       q,
		Interval:    cfg.Janitor.Interval,
		StaleAfter:  cfg.Janitor.StaleAfter,
		MaxAttempts: cfg.Janitor.MaxAttempts,
		DeadLetters: q.DeadLetters,
		Callbacks:   callback.FromConfig(cfg.Callbacks, log),
		Log:         log,
	})
	go func() {
		ready := func(ctx context.Context) error { return errors.Join(st.Ping(ctx), q.Ping(ctx)) }
		if err := metrics.Serve(ctx, cfg.Metrics.Addr, ready, log); err != nil {
			log.Error("metrics server", "error", err)
		}
	}()
	log.Info("janitor running", "interval", cfg.Janitor.Interval, "staleAfter", cfg.Janitor.StaleAfter, "maxAttempts", cfg.Janitor.MaxAttempts)
	err := j.Run(ctx)
	c := j.Counts()
	log.Info("janitor stopped", "passes", c.Passes, "republished", c.Republished, "failed", c.Failed,
		"pruned", c.Pruned, "deadLetters", c.DeadLetters)
	return err
}
