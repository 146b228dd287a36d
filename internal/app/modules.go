package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"go.opentelemetry.io/otel/trace"

	"github.com/sumprimes/sumprimes/api"
	"github.com/sumprimes/sumprimes/janitor"
	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/embedded"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/ratelimit"
	"github.com/sumprimes/sumprimes/pkg/store"
	"github.com/sumprimes/sumprimes/pkg/tracing"
	"github.com/sumprimes/sumprimes/worker"
)

// initEmbedded starts the in-process broker and store and points the
// configuration at them, so the modules after it connect there.
func initEmbedded(a *app, _ context.Context) (service, error) {
	stack, err := embedded.Start()
	if err != nil {
		return service{}, err
	}
	a.cfg.Kafka.Brokers = stack.KafkaBrokers()
	a.cfg.Redis.Addrs = []string{stack.RedisAddr()}
	a.log.Info("embedded broker and store up", "kafka", strings.Join(a.cfg.Kafka.Brokers, ","), "redis", stack.RedisAddr())
	return service{stop: stack.Close}, nil
}

// initTracing makes the tracer provider: OTLP/HTTP to
// tracing.otlp_endpoint, or none (no-op) without one. Its stop sends the
// spans still buffered.
func initTracing(a *app, _ context.Context) (service, error) {
	var roles []string
	for _, r := range a.roles {
		if r == API || r == Worker || r == Janitor {
			roles = append(roles, string(r))
		}
	}
	tp, shutdown, err := tracing.New(tracing.Config{
		Endpoint: a.cfg.Tracing.Endpoint, SampleRatio: a.cfg.Tracing.SampleRatio,
		Service: "sumprimes-" + strings.Join(roles, "+"),
	})
	if err != nil {
		return service{}, err
	}
	a.tracer = tp
	return service{stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			a.log.Warn("sending the last spans failed", "error", err)
		}
	}}, nil
}

// initRedis builds the service's one Redis client and asks the server once
// whether it takes it: a configuration it refuses stops start-up here.
func initRedis(a *app, ctx context.Context) (service, error) {
	r := a.cfg.Redis
	tlsConfig, err := r.TLS.Config()
	if err != nil {
		return service{}, fmt.Errorf("redis.tls: %w", err)
	}
	cfg := store.Config{
		Addrs: r.Addrs, MasterName: r.MasterName, Username: r.Username, Password: string(r.Password), DB: r.DB,
		SentinelPassword: string(r.SentinelPassword), TLS: tlsConfig,
	}
	a.redis = store.NewClient(cfg)
	a.redis.AddHook(roundTrips{})
	if a.cfg.Tracing.Endpoint != "" {
		if err := redisotel.InstrumentTracing(a.redis, redisotel.WithTracerProvider(a.tracer)); err != nil {
			return service{}, fmt.Errorf("tracing redis: %w", err)
		}
	}
	check, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := store.Check(check, cfg, a.redis); err != nil {
		a.redis.Close()
		return service{}, err
	}
	return service{stop: func() { a.redis.Close() }}, nil
}

// roundTrips counts every command sent alone and every pipeline as one
// round trip (sumprimes_redis_round_trips_total).
type roundTrips struct{}

func (roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		metrics.RedisRoundTrips.Inc()
		return next(ctx, cmd)
	}
}

func (roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		metrics.RedisRoundTrips.Inc()
		return next(ctx, cmds)
	}
}

func initStore(a *app, _ context.Context) (service, error) {
	a.store = store.NewRedis(a.redis, a.cfg.Redis.KeyPrefix, a.cfg.Result.TTL).WaitForReplicas(a.cfg.Redis.WaitReplicas)
	return service{}, nil
}

// initQueue connects lazily and makes sure the topics exist in the
// background, retrying while the broker boots: the API serves at once
// (not ready until then), while the worker and janitor wait for topicReady.
func initQueue(a *app, _ context.Context) (service, error) {
	k := a.cfg.Kafka
	tlsConfig, err := k.TLS.Config()
	if err != nil {
		return service{}, fmt.Errorf("kafka.tls: %w", err)
	}
	mechanism, err := saslMechanism(k.SASL)
	if err != nil {
		return service{}, fmt.Errorf("kafka.sasl: %w", err)
	}
	a.queue = queue.New(queue.Config{
		Brokers: k.Brokers, Topic: k.Topic, Partitions: k.Partitions, ReplicationFactor: k.ReplicationFactor,
		Group: k.Group, DLQTopic: k.DLQTopic, BatchTimeout: k.BatchTimeout, TLS: tlsConfig, SASL: mechanism,
		HeavyTopic: k.HeavyTopic, HeavyGroup: k.HeavyGroup, TaskTopic: k.TaskTopic, TaskGroup: k.TaskGroup, ClientID: a.owner,
	}, a.log)
	a.topicReady = make(chan struct{})
	run := func(ctx context.Context) error {
		if err := a.queue.EnsureTopic(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // shut down while the broker was still booting
			}
			return err // the broker refuses this configuration: stop, and say why
		}
		a.log.Info("kafka topics ready", "light", k.Topic, "heavy", k.HeavyTopic, "tasks", k.TaskTopic)
		close(a.topicReady)
		<-ctx.Done()
		return nil
	}
	return service{run: run, stop: func() { a.queue.Close() }}, nil
}

// saslMechanism is kafka-go's mechanism for the configured one; nil for none.
func saslMechanism(c config.SASL) (sasl.Mechanism, error) {
	switch c.Mechanism {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Mechanism{Username: c.Username, Password: string(c.Password)}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, c.Username, string(c.Password))
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, c.Username, string(c.Password))
	}
	return nil, fmt.Errorf("unknown mechanism %q", c.Mechanism)
}

// waitTopic reports whether the topics exist; false means ctx ended first,
// a shutdown while the broker was still booting.
func (a *app) waitTopic(ctx context.Context) bool {
	select {
	case <-a.topicReady:
		return true
	case <-ctx.Done():
		return false
	}
}

// limits are what a client may ask for: the API refuses and the worker
// dead-letters anything past them, so both read them here.
func (a *app) limits() job.Limits {
	return job.Limits{MaxB: a.cfg.Limits.MaxB, MaxCost: a.cfg.Limits.MaxCost}
}

func initCallbacks(a *app, _ context.Context) (service, error) {
	c := a.cfg.Callbacks
	a.callbacks = callback.New(callback.Config{
		Secret: string(c.Secret), Allowed: c.Networks(), Attempts: c.Attempts, Timeout: c.Timeout, Log: a.log,
	})
	return service{}, nil
}

// initOps serves /metrics, /healthz, /readyz and Go's profiles for every
// role, apart from the API's public port; an empty metrics.addr serves
// nothing. A process running several roles serves it once.
func initOps(a *app, _ context.Context) (service, error) {
	if a.cfg.Metrics.Addr == "" {
		return service{}, nil
	}
	ln, err := net.Listen("tcp", a.cfg.Metrics.Addr)
	if err != nil {
		return service{}, fmt.Errorf("metrics.addr: %w", err)
	}
	a.log.Info("metrics and health listening", "addr", ln.Addr().String())
	ready := func(ctx context.Context) error { return errors.Join(a.store.Ping(ctx), a.queue.Ping(ctx)) }
	return service{run: func(ctx context.Context) error { return metrics.Serve(ctx, ln, ready) }}, nil
}

func initAPI(a *app, ctx context.Context) (service, error) {
	cfg, log := a.cfg, a.log.With("role", "api")
	a.registerQueueMetrics()
	ln := a.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
			return service{}, fmt.Errorf("http.addr: %w", err)
		}
	}
	keys, err := cfg.Auth.APIKeys()
	if err != nil {
		return service{}, fmt.Errorf("auth: %w", err)
	}
	var apiKeys []api.Key
	for _, k := range keys {
		apiKeys = append(apiKeys, api.Key{Name: k.Name, Secret: k.Key})
	}
	if len(apiKeys) == 0 {
		log.Warn("no API keys configured (auth.keys): anyone who can reach the API may submit, read and cancel any job")
	}
	var limiter ratelimit.Limiter
	rl := cfg.RateLimit
	if rl.Enabled {
		limiter = ratelimit.NewRedis(a.redis, cfg.Redis.KeyPrefix+"rl:")
	}
	srv := api.New(api.Config{
		Store:           a.store,
		Changes:         a.store.Changes(ctx),
		MaxWait:         cfg.HTTP.MaxWait,
		ReadTimeout:     cfg.HTTP.ReadTimeout,
		IdleTimeout:     cfg.HTTP.IdleTimeout,
		DrainDelay:      cfg.HTTP.DrainDelay,
		ShutdownTimeout: cfg.HTTP.ShutdownTimeout,
		Queue:           a.queue,
		Operator:        a.queue,
		Limits:          a.limits(),
		HeavyFrom:       cfg.Lanes.HeavyFrom,
		Timeout:         cfg.HTTP.RequestTimeout,
		Log:             log,

		Limiter:        limiter,
		SubmitLimit:    ratelimit.Limit{Rate: rl.SubmitRate, Burst: rl.SubmitBurst},
		PollLimit:      ratelimit.Limit{Rate: rl.PollRate, Burst: rl.PollBurst},
		APIKeyHeader:   rl.APIKeyHeader,
		TrustedProxies: rl.Proxies(),

		Keys:          apiKeys,
		PublicMetrics: cfg.HTTP.PublicMetrics,
		Admins:        cfg.Auth.Admins,
		CORSOrigins:   cfg.HTTP.CORSOrigins,
		Callbacks:     a.callbacks,
		TracerProvider: func() trace.TracerProvider {
			if a.cfg.Tracing.Endpoint == "" {
				return nil
			}
			return a.tracer
		}(),
		Backlog: func(ctx context.Context) (int64, error) {
			lag, err := a.queue.Lag(ctx)
			return lag.Total(), err
		},
		MaxBacklog:      cfg.Limits.MaxBacklog,
		FleetSpeedEvery: 10 * time.Second,
	})
	log.Info("api listening", "addr", ln.Addr().String())
	return service{run: func(ctx context.Context) error { return srv.Serve(ctx, ln) }}, nil
}

func initWorker(a *app, ctx context.Context) (service, error) {
	cfg, log := a.cfg, a.log.With("role", "worker")
	lanes, err := cfg.Worker.LaneList()
	if err != nil {
		return service{}, fmt.Errorf("worker.lanes: %w", err)
	}
	w := worker.New(worker.Config{
		Store:            a.store,
		Owner:            a.owner,
		Limits:           a.limits(),
		Cancellations:    a.store.Cancellations(ctx),
		Callbacks:        a.callbacks,
		NewConsumer:      a.queue.Consumer,
		Lanes:            lanes,
		Concurrency:      cfg.Worker.Concurrency,
		LightConcurrency: cfg.Worker.LightConcurrency,
		Prefetch:         cfg.Worker.Prefetch,
		Threads:          cfg.Worker.Threads,
		LightFirst:       cfg.Worker.LightFirst,
		DrainTimeout:     cfg.Worker.DrainTimeout,
		LeaseTTL:         cfg.Worker.LeaseTTL,
		Scatter:          worker.Scatter{Threshold: cfg.Scatter.Threshold, TaskCost: cfg.Scatter.TaskCost},
		Tasks:            a.queue,
		Tracer:           a.tracer.Tracer("github.com/sumprimes/sumprimes/worker"),
		Log:              log,
	})
	a.registerQueueMetrics()
	return service{run: func(ctx context.Context) error {
		if !a.waitTopic(ctx) {
			return nil
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { a.reportSpeed(ctx, log) })
		log.Info("worker consuming", "lanes", cfg.Worker.Lanes, "heavySlots", cfg.Worker.Concurrency, "heavyThreads", w.Threads())
		return w.Run(ctx)
	}}, nil
}

// engineSpeed times the engines on this machine (some 0.1 to 0.3 s), once
// a process: a test binary runs dozens of workers. A race-detector build
// (the tests') takes the reference speed instead: its engines run some
// fifty times slower, and dozens of workers timing them at once starved a
// CI machine for minutes.
var engineSpeed = sync.OnceValues(func() (primes.Speed, error) {
	if raceBuild {
		return primes.Reference, nil
	}
	return primes.MeasureSpeed(context.Background())
})

// reportSpeed times the engines, alongside the worker's first jobs (a
// probe in front of them took over a minute on a CI machine starting
// dozens of workers at once), and reports the speed to the store then and
// every store.SpeedReportEvery until ctx ends, so that the API's estimates
// are this fleet's. A probe or a report that fails leaves the API at the
// other workers' speed, or at the reference one, and the worker working.
func (a *app) reportSpeed(ctx context.Context, log *slog.Logger) {
	speed, err := engineSpeed()
	if err != nil {
		log.Warn("could not time the engines", "error", err)
		return
	}
	log.Info("engines timed", "sieveSpeed", speed.Sieve, "prefixSpeed", speed.Prefix)
	t := time.NewTicker(store.SpeedReportEvery)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := a.store.ReportSpeed(rctx, a.owner, speed, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("could not report the engines' speed", "error", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func initJanitor(a *app, _ context.Context) (service, error) {
	cfg, log := a.cfg.Janitor, a.log.With("role", "janitor")
	a.registerQueueMetrics()
	j := janitor.New(janitor.Config{
		Store:       a.store,
		Queue:       a.queue,
		Owner:       a.owner,
		Interval:    cfg.Interval,
		StaleAfter:  cfg.StaleAfter,
		MaxAttempts: cfg.MaxAttempts,
		DeadLetters: a.queue.DeadLetters,
		Callbacks:   a.callbacks,
		Log:         log,
	})
	return service{run: func(ctx context.Context) error {
		if !a.waitTopic(ctx) {
			return nil
		}
		log.Info("janitor running", "interval", cfg.Interval, "staleAfter", cfg.StaleAfter, "maxAttempts", cfg.MaxAttempts)
		err := j.Run(ctx)
		c := j.Counts()
		log.Info("janitor stopped", "passes", c.Passes, "republished", c.Republished, "failed", c.Failed,
			"pruned", c.Pruned, "deadLetters", c.DeadLetters)
		return err
	}}, nil
}

// registerQueueMetrics exports, read at each scrape, every lane's consumer
// lag by partition and the compute time its backlog holds (the planner's
// estimates of the jobs accepted and not yet final): what the heavy lane's
// workers scale on.
func (a *app) registerQueueMetrics() {
	metrics.RegisterLag(func(ctx context.Context) (map[string]map[int]int64, error) {
		lag, err := a.queue.Lag(ctx)
		out := map[string]map[int]int64{}
		for lane, parts := range lag.ByLane {
			out[lane.String()] = parts
		}
		return out, err
	})
	metrics.RegisterBacklog(func(ctx context.Context) (map[string]float64, error) {
		backlog, err := a.store.Backlog(ctx)
		out := map[string]float64{}
		for lane, d := range backlog {
			out[lane.String()] = d.Seconds()
		}
		return out, err
	})
}
