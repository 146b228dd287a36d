package janitor

import (
	"context"
	"log/slog"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/role"
)

// Run is the janitor role's start-up path, shared by `sumprimes janitor`
// and `sumprimes dev`: it waits for the topics, then works until ctx ends.
//
// Shutdown order: the dead-letter reader leaves its group, the lock is
// freed, then the Kafka writers and the Redis client close.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	conns, err := role.Start(ctx, cfg, log)
	if conns == nil {
		return err // nil when ctx ended while connecting
	}
	defer conns.Close()
	j := New(Config{
		Store:       conns.Store,
		Queue:       conns.Queue,
		Interval:    cfg.Janitor.Interval,
		StaleAfter:  cfg.Janitor.StaleAfter,
		MaxAttempts: cfg.Janitor.MaxAttempts,
		DeadLetters: conns.Queue.DeadLetters,
		Callbacks:   callback.FromConfig(cfg.Callbacks, log),
		Log:         log,
	})
	log.Info("janitor running", "interval", cfg.Janitor.Interval, "staleAfter", cfg.Janitor.StaleAfter, "maxAttempts", cfg.Janitor.MaxAttempts)
	err = j.Run(ctx)
	c := j.Counts()
	log.Info("janitor stopped", "passes", c.Passes, "republished", c.Republished, "failed", c.Failed,
		"pruned", c.Pruned, "deadLetters", c.DeadLetters)
	return err
}
