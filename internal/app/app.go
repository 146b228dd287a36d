// Package app is the module map: the one place where the service's roles are
// wired. Each module (the Redis client, the store, the queue, the callback
// sender, the embedded broker and store, the ops listener, and the api,
// worker and janitor roles) has one init function and the modules it needs;
// Run starts what its targets need in dependency order and stops it in
// reverse. `sumprimes api|worker|janitor` run one role; `sumprimes dev` runs
// them all over one set of clients. Loki's pkg/loki/modules.go is the model.
//
// This is also the one place configuration keys become the components' own
// Configs: no role or component package imports pkg/config.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Module names a part of the service.
type Module string

// The modules; API, Worker and Janitor are the roles a process runs.
const (
	Embedded  Module = "embedded"  // in-process Kafka-protocol broker and Redis-protocol store
	Redis     Module = "redis"     // the Redis client
	Store     Module = "store"     // the result store on it
	Queue     Module = "queue"     // the Kafka job queue; ensures the topics exist
	Callbacks Module = "callbacks" // the signed callback sender
	Ops       Module = "ops"       // /metrics, /healthz, /readyz and /debug/pprof/ on metrics.addr
	Tracing   Module = "tracing"   // the OpenTelemetry tracer provider (tracing.otlp_endpoint)
	API       Module = "api"
	Worker    Module = "worker"
	Janitor   Module = "janitor"
)

// Dev is every role over the embedded broker and store.
var Dev = []Module{Embedded, API, Worker, Janitor}

// module is one entry of the map: what it needs, and how it starts.
type module struct {
	deps []Module
	init func(a *app, ctx context.Context) (service, error)
}

// service is what a started module leaves running: run does its work until
// ctx ends (nil for none), and stop releases what init took, once every
// run has returned.
type service struct {
	run  func(ctx context.Context) error
	stop func()
}

// modules is the map. Shutdown order, in full: when the context ends, every
// run returns — the API fails readiness, keeps serving for
// http.drain_delay, then drains in-flight requests; the worker stops
// fetching, lets jobs in flight finish within worker.drain_timeout, and
// leaves the group; the janitor leaves the dead-letter group and frees its
// lock; the ops listener closes. Then the stops run in reverse start order:
// the Kafka writers flush and close, then the Redis client, then the
// embedded broker and store.
var modules = map[Module]module{
	Embedded:  {init: initEmbedded},
	Tracing:   {init: initTracing},
	Redis:     {deps: []Module{Tracing}, init: initRedis},
	Store:     {deps: []Module{Redis}, init: initStore},
	Queue:     {init: initQueue},
	Callbacks: {init: initCallbacks},
	Ops:       {deps: []Module{Store, Queue}, init: initOps},
	API:       {deps: []Module{Tracing, Redis, Store, Queue, Callbacks, Ops}, init: initAPI},
	Worker:    {deps: []Module{Tracing, Store, Queue, Callbacks, Ops}, init: initWorker},
	Janitor:   {deps: []Module{Store, Queue, Callbacks, Ops}, init: initJanitor},
}

// Options are what Run needs beyond the targets.
type Options struct {
	Config config.Config
	Log    *slog.Logger
	// Listener serves the API; nil listens on http.addr.
	Listener net.Listener
	// Started, when set, is called once every module has started.
	Started func()
}

// app holds the modules started so far, for the ones that need them.
type app struct {
	cfg   config.Config
	log   *slog.Logger
	ln    net.Listener
	owner string // names this process in leases and the janitor lock
	roles []Module

	tracer trace.TracerProvider

	redis      redis.UniversalClient
	store      *store.Redis
	queue      *queue.Kafka
	topicReady chan struct{} // closed once the topics exist
	callbacks  *callback.Sender
}

// Run starts the targets and the modules they need, in dependency order,
// and runs them until ctx ends or one fails, which stops the others; then it
// stops them in reverse order (see modules).
func Run(ctx context.Context, opts Options, targets ...Module) (err error) {
	host, _ := os.Hostname()
	a := &app{
		cfg: opts.Config, log: opts.Log, ln: opts.Listener,
		owner: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8]), roles: targets,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, runCtx := errgroup.WithContext(ctx)
	var stops []func()
	defer func() {
		cancel()
		err = g.Wait()
		for _, stop := range slices.Backward(stops) {
			stop()
		}
	}()
	for _, name := range order(targets) {
		svc, err := modules[name].init(a, ctx)
		if err != nil {
			g.Go(func() error { return fmt.Errorf("%s: %w", name, err) })
			return nil // the deferred Wait returns it
		}
		if svc.stop != nil {
			stops = append(stops, svc.stop)
		}
		if svc.run != nil {
			g.Go(func() error {
				err := svc.run(runCtx)
				if err == nil && runCtx.Err() == nil {
					err = fmt.Errorf("%s stopped unexpectedly", name)
				}
				return err
			})
		}
	}
	if opts.Started != nil {
		opts.Started()
	}
	<-runCtx.Done()
	return nil
}

// order lists the targets and everything they need, each after its
// dependencies, in the order the targets are given.
func order(targets []Module) []Module {
	var out []Module
	seen := map[Module]bool{}
	var visit func(Module)
	visit = func(m Module) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, d := range modules[m].deps {
			visit(d)
		}
		out = append(out, m)
	}
	for _, t := range targets {
		visit(t)
	}
	return out
}
