// Package metrics holds the service's Prometheus series, all named
// sumprimes_*, and the small HTTP server that exposes them (with /healthz
// and /readyz) on the roles that have no API listener of their own.
//
// The series live in the default registry, so that `sumprimes dev`, which
// runs every role in one process, shows them all on one /metrics.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	// HTTPRequests counts API requests by route template, method and status.
	HTTPRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sumprimes_http_requests_total", Help: "API requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	// HTTPDuration times API requests by route template and method.
	HTTPDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sumprimes_http_request_duration_seconds", Help: "API request latency.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"route", "method"})

	// JobsSubmitted counts jobs accepted (202).
	JobsSubmitted = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sumprimes_jobs_submitted_total", Help: "Jobs accepted by the API (durably in Kafka).",
	})
	// JobsFinished counts jobs a worker finished, by engine.
	JobsFinished = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sumprimes_jobs_finished_total", Help: "Jobs finished by the workers, by engine.",
	}, []string{"engine"})
	// JobsFailed counts jobs recorded as FAILED, by who gave up.
	JobsFailed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sumprimes_jobs_failed_total", Help: "Jobs recorded as FAILED, by role.",
	}, []string{"role"})
	// JobsCancelled counts jobs cancelled by their clients.
	JobsCancelled = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sumprimes_jobs_cancelled_total", Help: "Jobs cancelled by their clients.",
	})
	// TasksPublished counts the tasks scattered jobs were cut into (again
	// for a job scattered again), TasksDone the parts workers stored.
	TasksPublished = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sumprimes_tasks_published_total", Help: "Tasks of scattered jobs published to the task topic.",
	})
	TasksDone = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sumprimes_tasks_done_total", Help: "Tasks of scattered jobs whose parts were stored.",
	})
	// TaskSeconds is how long each task took to compute (its _sum over a
	// job's tasks, against the job computed whole, is scattering's cost).
	TaskSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "sumprimes_task_seconds", Help: "Time computing one task of a scattered job.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	})
	// JobsRedelivered counts jobs delivered again after they were final.
	JobsRedelivered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sumprimes_jobs_redelivered_total", Help: "Jobs delivered to a worker again after their record was final.",
	})
	// JobsSkipped counts messages a worker committed without computing,
	// by reason (no_record: a job the API never accepted or withdrew).
	JobsSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sumprimes_jobs_skipped_total", Help: "Job messages committed without computing, by reason.",
	}, []string{"reason"})
	// ComputeSeconds times the computations, by engine.
	ComputeSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sumprimes_compute_seconds", Help: "Time to compute a job's sum, by engine.",
		Buckets: prometheus.ExponentialBuckets(1e-5, 4, 12),
	}, []string{"engine"})
	// EndToEndSeconds times submit → FINISHED.
	EndToEndSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "sumprimes_job_latency_seconds", Help: "Time from submit to the stored result.",
		Buckets: prometheus.ExponentialBuckets(1e-3, 3, 12),
	})
	// RedisRoundTrips counts this process's round trips to Redis: a command
	// alone or a pipeline of them.
	RedisRoundTrips = promauto.NewCounter(prometheus.CounterOpts{
		Name: "sumprimes_redis_round_trips_total", Help: "Round trips to Redis: single commands and pipelines.",
	})
	// FleetSpeed is the API's view of the workers' speed, by engine.
	FleetSpeed = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sumprimes_fleet_speed_ratio",
		Help: "The workers' median time, by engine, for what takes one second on the planner's reference machine (1 until a worker reports).",
	}, []string{"engine"})
	// JanitorActions counts what the janitor did, by action.
	JanitorActions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "sumprimes_janitor_actions_total", Help: "Janitor findings and actions.",
	}, []string{"action"})
)

// RegisterLag exports each lane's consumer-group lag per partition, read
// from Kafka at each scrape. The latest call's function is the one read
// (tests run several services in one process, one after another).
func RegisterLag(lag func(context.Context) (map[string]map[int]int64, error)) {
	lagCollector.register(func(ctx context.Context, ch chan<- prometheus.Metric) error {
		byLane, err := lag(ctx)
		for lane, parts := range byLane {
			for p, n := range parts {
				ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(n), lane, strconv.Itoa(p))
			}
		}
		return err
	})
}

// RegisterBacklog exports the compute seconds each lane's backlog holds,
// read from the store at each scrape: the heavy lane's autoscaling metric.
// The latest call's function is the one read.
func RegisterBacklog(seconds func(context.Context) (map[string]float64, error)) {
	backlogCollector.register(func(ctx context.Context, ch chan<- prometheus.Metric) error {
		byLane, err := seconds(ctx)
		for lane, s := range byLane {
			ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, s, lane)
		}
		return err
	})
}

var (
	lagDesc = prometheus.NewDesc("sumprimes_consumer_lag",
		"Jobs a lane's consumer group has not committed, by partition.", []string{"lane", "partition"}, nil)
	backlogDesc = prometheus.NewDesc("sumprimes_backlog_compute_seconds",
		"The planner's estimates summed over the jobs accepted and not yet final, by lane.", []string{"lane"}, nil)
)

var (
	lagCollector     = &collector{desc: lagDesc}
	backlogCollector = &collector{desc: backlogDesc}
)

// collector reads one series family from a dependency at each scrape; an
// unreachable dependency leaves it out of that scrape, the rest still served.
type collector struct {
	desc    *prometheus.Desc
	once    sync.Once
	collect atomic.Pointer[func(context.Context, chan<- prometheus.Metric) error]
}

// register makes f the collector's reader, registering the collector with
// the default registry the first time.
func (c *collector) register(f func(context.Context, chan<- prometheus.Metric) error) {
	c.collect.Store(&f)
	c.once.Do(func() { prometheus.MustRegister(c) })
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = (*c.collect.Load())(ctx, ch)
}

// Handler serves the series in the Prometheus text format; a collector
// that fails does not take the others down with it.
func Handler() http.Handler {
	return promhttp.HandlerFor(prometheus.DefaultGatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Health answers a liveness probe: the process is alive. It checks nothing
// else on purpose, so an orchestrator does not restart a role because Redis
// blinked.
func Health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// Ready answers a readiness probe: ready while check passes within
// timeout, else a 503 problem (RFC 9457) saying what failed.
func Ready(timeout time.Duration, check func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := check(ctx); err != nil {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type":"urn:sumprimes:problem:unavailable","title":"Service Unavailable","status":503,"detail":` +
				strconv.Quote("not ready: "+err.Error()) + "}\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	}
}

// Serve answers /metrics, /healthz, /readyz (ready calls the role's own
// checks) and /debug/pprof/ on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, ready func(context.Context) error) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler())
	mux.HandleFunc("GET /healthz", Health)
	mux.Handle("GET /readyz", Ready(3*time.Second, ready))
	// Go's profiles, for whoever can reach the ops port (never the API's).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
