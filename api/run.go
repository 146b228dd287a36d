package api

import (
	"context"
	"log/slog"
	"net"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/ratelimit"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Run is the api role's start-up path, shared by `sumprimes api` and
// `sumprimes dev`: it serves on ln at once (readiness stays false until Kafka
// and Redis answer and the topic exists) and stops when ctx ends.
//
// Shutdown order: fail readiness, keep serving for http.drain_delay, stop
// accepting and drain in-flight requests (Server.Serve), then flush and
// close the Kafka writers, then close the Redis client.
func Run(ctx context.Context, cfg config.Config, ln net.Listener, log *slog.Logger) error {
	rdb := store.NewClient(cfg.Redis)
	defer rdb.Close()
	q := queue.New(cfg.Kafka, log)
	defer q.Close()

	go func() {
		if err := q.EnsureTopic(ctx); err == nil {
			log.Info("kafka topic ready", "topic", cfg.Kafka.Topic, "partitions", cfg.Kafka.Partitions)
		}
	}()

	var limiter ratelimit.Limiter
	if cfg.RateLimit.Enabled {
		limiter = ratelimit.NewRedis(rdb, cfg.Redis.KeyPrefix+"rl:")
	}
	rl := cfg.RateLimit
	st := store.NewRedis(rdb, cfg.Redis.KeyPrefix, cfg.Result.TTL)
	srv := New(Config{
		Store:   st,
		Changes: st.Changes(ctx),
		MaxWait: cfg.HTTP.MaxWait,
		Queue:   q,
		Limits:  job.Limits{MaxB: cfg.Limits.MaxB, MaxCost: cfg.Limits.MaxCost},
		Timeout: cfg.HTTP.RequestTimeout,
		Log:     log,

		Limiter:        limiter,
		SubmitLimit:    ratelimit.Limit{Rate: rl.SubmitRate, Burst: rl.SubmitBurst},
		PollLimit:      ratelimit.Limit{Rate: rl.PollRate, Burst: rl.PollBurst},
		APIKeyHeader:   rl.APIKeyHeader,
		TrustedProxies: rl.Proxies(),

		Callbacks:  callback.FromConfig(cfg.Callbacks, log),
		Backlog:    q.Backlog,
		MaxBacklog: cfg.Limits.MaxBacklog,
	})
	log.Info("api listening", "addr", ln.Addr().String())
	return srv.Serve(ctx, ln, cfg.HTTP.DrainDelay, cfg.HTTP.ShutdownTimeout)
}
