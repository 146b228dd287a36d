// Package api is the HTTP front of the service. It accepts jobs, answers
// polls from the result store and never computes anything itself, so any
// number of replicas can serve any client.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.opentelemetry.io/otel/trace"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/ratelimit"
	"github.com/sumprimes/sumprimes/pkg/store"
	"github.com/sumprimes/sumprimes/pkg/tracing"
)

// OpenAPI is the API's OpenAPI 3.1 description, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// page is the web page served at /: submit a range, watch it live, cancel.
//
//go:embed web/index.html
var page []byte

// bodyLimit caps request bodies: a valid submit is a few dozen bytes.
const bodyLimit = "1KB"

// Store is what the API needs of the result store: the records, the
// idempotency claims, and whether it answers.
type Store interface {
	store.Records
	store.Listing
	store.Claims
	store.Operations
	store.Fleet
	Pending(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
}

// Queue is what the API needs of the job queue.
type Queue interface {
	// PublishAll returns errs[i] nil only once every in-sync replica has
	// jobs[i], so a nil error is the promise behind a 202.
	PublishAll(ctx context.Context, jobs []job.Job) (errs []error)
	// Ping reports whether the broker answers and the topic exists.
	Ping(ctx context.Context) error
}

var _ Store = store.Store(nil)

// Server serves the HTTP API.
type Server struct {
	cfg      Config
	draining atomic.Bool // set at shutdown: readiness fails from then on
	// closing is closed when shutdown begins: long-polls answer with the
	// record as it stands and event streams end, telling the client to
	// reconnect (to another replica), instead of holding shutdown up.
	closing  chan struct{}
	echo     *echo.Echo
	store    Store
	queue    Queue
	acceptor *acceptor
	limits   job.Limits
	lanes    time.Duration
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time

	keys         keyring
	admins       []string
	limiter      ratelimit.Limiter
	apiKeyHeader string
	backlog      *backlogGauge
	fleet        *fleetSpeed
	hub          *hub
	stats        *stats
	ops          Operator
	maxWait      time.Duration
	callbacks    *callback.Sender
}

// Config holds what a Server depends on.
type Config struct {
	Store  Store
	Queue  Queue
	Limits job.Limits
	// HeavyFrom is the estimate from which a job goes to the heavy lane
	// (job.LaneFor); 0 puts every job in the light lane.
	HeavyFrom time.Duration
	// Timeout bounds each call to the store or the queue, so a dead
	// dependency becomes a 503 instead of a hung client.
	Timeout time.Duration
	Log     *slog.Logger

	// Keys are the API keys clients must send; none leaves the API open.
	// PublicMetrics serves /metrics here too (http.public_metrics); the
	// ops listener serves it either way.
	PublicMetrics bool
	Keys          []Key
	// Admins are the key names that see every client's jobs (GET /sumPrime
	// lists them all; any job may be read and cancelled) and may use the
	// admin API (/admin/...).
	Admins []string
	// Operator serves the admin API's dead letters and workers; without
	// it those answer 503.
	Operator Operator
	// CORSOrigins may call the API from a browser; none sends no CORS
	// headers.
	CORSOrigins []string

	// Limiter enforces per-client budgets on submits and polls; nil turns
	// rate limiting off.
	Limiter     ratelimit.Limiter
	SubmitLimit ratelimit.Limit
	PollLimit   ratelimit.Limit
	// APIKeyHeader names the header whose value identifies a client; without
	// it, clients are told apart by address.
	APIKeyHeader string
	// TrustedProxies may set X-Forwarded-For.
	TrustedProxies []*net.IPNet

	// Backlog reports how many jobs wait in the queue; with MaxBacklog > 0,
	// submits are refused with 503 while it is above that bound.
	Backlog    func(context.Context) (int64, error)
	MaxBacklog int64
	// FleetSpeedEvery is how often Serve reads the workers' speed from the
	// store (fleetSpeed); 0 keeps the planner's reference speed.
	FleetSpeedEvery time.Duration

	// Changes delivers the changes of jobs' records; long-polls and event
	// streams wake on it. Without it they wake only at the end of their
	// wait.
	Changes <-chan store.Change
	// MaxWait caps ?wait= on GET.
	MaxWait time.Duration

	// ReadTimeout bounds reading a whole request, IdleTimeout the wait for
	// the next one on a kept-alive connection.
	ReadTimeout, IdleTimeout time.Duration
	// DrainDelay is how long Serve keeps serving, not ready, once asked to
	// stop; ShutdownTimeout how long in-flight requests then get.
	DrainDelay, ShutdownTimeout time.Duration
	// Callbacks checks callback URLs at submit and delivers the CANCELLED
	// records; nil means callbacks are off.
	Callbacks *callback.Sender
	// TracerProvider, when set, traces every request (a server span each,
	// W3C trace context honoured) and hands a submit's trace context to
	// its job's message.
	TracerProvider trace.TracerProvider
}

// New returns a Server with its routes registered.
func New(cfg Config) *Server {
	st := newStats()
	s := &Server{
		cfg:      cfg,
		echo:     echo.New(),
		store:    cfg.Store,
		queue:    cfg.Queue,
		acceptor: &acceptor{store: cfg.Store, queue: cfg.Queue, timeout: cfg.Timeout, log: cfg.Log},
		limits:   cfg.Limits,
		lanes:    cfg.HeavyFrom,
		timeout:  cfg.Timeout,
		log:      cfg.Log,
		now:      time.Now,

		keys:         newKeyring(cfg.Keys),
		admins:       cfg.Admins,
		limiter:      cfg.Limiter,
		apiKeyHeader: cfg.APIKeyHeader,
		stats:        st,
		hub:          newHub(cfg.Changes, st),
		closing:      make(chan struct{}),
		maxWait:      cfg.MaxWait,
		callbacks:    cfg.Callbacks,
		ops:          cfg.Operator,
	}
	if cfg.Backlog != nil && cfg.MaxBacklog > 0 {
		s.backlog = &backlogGauge{read: cfg.Backlog, max: cfg.MaxBacklog, every: time.Second}
	}
	if cfg.FleetSpeedEvery > 0 {
		s.fleet = &fleetSpeed{read: cfg.Store.Speeds, now: time.Now, every: cfg.FleetSpeedEvery}
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.Use(middleware.Recover())
	if cfg.TracerProvider != nil {
		e.Use(otelecho.Middleware("sumprimes-api", otelecho.WithTracerProvider(cfg.TracerProvider),
			otelecho.WithPropagators(tracing.Propagator), otelecho.WithSkipper(func(c echo.Context) bool {
				switch c.Path() { // probes and scrapes: no one traces those
				case "/healthz", "/readyz", "/metrics":
					return true
				}
				return false
			})))
	}
	e.Use(measure)
	e.Use(middleware.BodyLimit(bodyLimit))
	if len(cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  cfg.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete},
			AllowHeaders:  []string{echo.HeaderContentType, echo.HeaderAuthorization, "X-API-Key", "Idempotency-Key"},
			ExposeHeaders: []string{echo.HeaderLocation, "Retry-After", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"},
		}))
	}
	// HEAD is served wherever GET is: net/http sends the headers alone.
	get := func(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		e.GET(path, h, m...)
		e.HEAD(path, h, m...)
	}
	e.POST("/sumPrime", s.submit, s.authenticate, s.limited("submit", cfg.SubmitLimit))
	get("/sumPrime", s.list, s.authenticate, s.limited("poll", cfg.PollLimit))
	get("/sumPrime/:id", s.get, s.authenticate, s.limited("poll", cfg.PollLimit))
	e.DELETE("/sumPrime/:id", s.cancel, s.authenticate, s.limited("submit", cfg.SubmitLimit))
	get("/sumPrime/:id/events", s.events, s.authenticate, s.limited("poll", cfg.PollLimit))
	admin := []echo.MiddlewareFunc{s.authenticate, s.adminOnly, s.limited("poll", cfg.PollLimit)}
	get("/admin/dead-letters", s.deadLetters, admin...)
	e.DELETE("/admin/dead-letters", s.purgeDeadLetters, admin...)
	e.POST("/admin/dead-letters/replay", s.replayAll, admin...)
	e.POST("/admin/dead-letters/:deadLetterId/replay", s.replayDeadLetter, admin...)
	get("/admin/workers", s.workers, admin...)
	get("/admin/stats", s.adminStats, admin...)
	get("/", func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, page) })
	get("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", OpenAPI) })
	if cfg.PublicMetrics {
		get("/metrics", echo.WrapHandler(metrics.Handler()))
	}
	get("/healthz", echo.WrapHandler(http.HandlerFunc(metrics.Health)))
	get("/readyz", echo.WrapHandler(metrics.Ready(s.timeout, s.ready)))
	return s
}

// pathParam is an echo path parameter (":id"), for Routes to spell as
// OpenAPI does ("{id}").
var pathParam = regexp.MustCompile(`:(\w+)`)

// Routes lists the routes served, as "METHOD /path/{param}".
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		if r.Method == http.MethodHead {
			continue // mirrors GET
		}
		out = append(out, r.Method+" "+pathParam.ReplaceAllString(r.Path, "{$1}"))
	}
	return out
}

// ServeHTTP makes the Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Serve answers requests on ln until ctx is cancelled. Every read has a
// deadline: ReadTimeout for a whole request (long-polls and event streams
// lift it once their request is read, see holdOpen), IdleTimeout between
// requests on a kept-alive connection. Shutdown order: readiness fails at
// once, so load balancers stop sending; requests are still served for
// DrainDelay, the time they take to notice; then the listener closes and
// in-flight requests get up to ShutdownTimeout to finish. Long-polls and
// event streams end as soon as shutdown begins (see closing).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: min(5*time.Second, s.cfg.ReadTimeout),
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
	}
	background, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	if s.backlog != nil {
		wg.Go(func() { s.backlog.run(background, s.log) })
	}
	if s.fleet != nil {
		wg.Go(func() { s.fleet.run(background, s.log) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(problemListener{ln}) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	close(s.closing)
	if s.cfg.DrainDelay > 0 {
		time.Sleep(s.cfg.DrainDelay)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// holdOpen lifts the request's read deadline, for a response that may
// rightly last longer than ReadTimeout (a long-poll, an event stream) once
// its request has been read whole.
func holdOpen(c echo.Context) {
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Time{})
}

// submit accepts a job: it writes the IN_PROGRESS record, then publishes the
// job and waits for the broker's acknowledgement. A 202 therefore means the
// job is durably in Kafka; a 503 not-accepted means it will never run.
func (s *Server) submit(c echo.Context) error {
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt != echo.MIMEApplicationJSON {
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as Content-Type: application/json")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return bodyProblem(err)
	}
	req, p := decodeSubmit(body)
	if p != nil {
		return p
	}
	plan, err := s.limits.Check(req.A, req.B)
	if err != nil {
		var fe *job.FieldError
		if errors.As(err, &fe) {
			return badField(fe.Field, fe.Detail)
		}
		return err
	}
	if req.CallbackURL != "" {
		if err := s.callbacks.Check(req.CallbackURL); err != nil {
			return badField("callbackUrl", err.Error())
		}
	}
	j := job.New(req.A, req.B, plan.On(s.fleet.get()), req.CallbackURL, s.now().UTC(), "")
	j.Owner, j.Lane = owner(c), job.LaneFor(plan.Estimate, s.lanes)
	j.TraceParent = tracing.Inject(c.Request().Context())
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	if s.backlog != nil && s.backlog.full() {
		p := unavailable("the workers are behind; submit again later")
		p.retryAfter = 10
		return p
	}
	claimKey, answered, err := s.claim(c, ctx, req, j)
	if answered || err != nil {
		return err
	}
	// With Prefer: wait=N (RFC 7240) the client would rather have the
	// result in this response: watched before the job exists, so that no
	// change is missed.
	wait := preferWait(c.Request().Header.Values("Prefer"), s.maxWait)
	var changed <-chan *job.Record
	if wait > 0 {
		var stop func()
		changed, stop = s.hub.watch(j.RequestID)
		defer stop()
	}
	rec, err := s.accept(ctx, j)
	if err != nil {
		var p *Problem
		if claimKey != "" && (!errors.As(err, &p) || p.Type != problemType+"outcome-unknown") {
			s.unclaim(ctx, claimKey) // not accepted: the key may be used again
		}
		return err
	}
	metrics.JobsSubmitted.Inc()
	s.log.Debug("job accepted", "requestId", j.RequestID, "a", j.A, "b", j.B, "engine", plan.Engine)
	if wait > 0 {
		holdOpen(c)
		if rec, err = s.await(c, rec, changed, wait); err != nil || c.Request().Context().Err() != nil {
			return err
		}
	}
	return s.writeAccepted(c, rec)
}

// claim takes the request's Idempotency-Key, if it has one, and returns its
// scoped key. A key already taken is answered here, from the request that
// took it (see replay): answered is then true.
func (s *Server) claim(c echo.Context, ctx context.Context, req submitRequest, j job.Job) (key string, answered bool, err error) {
	values := c.Request().Header.Values("Idempotency-Key")
	if len(values) == 0 {
		return "", false, nil
	}
	key, p := parseIdempotencyKey(values[0])
	if p != nil {
		return "", false, p
	}
	key = s.client(c) + ":" + key
	want := store.Claim{RequestID: j.RequestID, Fingerprint: fmt.Sprintf("%d-%d-%s", req.A, req.B, req.CallbackURL)}
	held, ok, err := s.store.Claim(ctx, key, want)
	switch {
	case err != nil:
		s.log.Error("claim idempotency key", "error", err)
		return "", false, storeUnavailable()
	case !ok:
		return "", true, s.replay(c, ctx, held, want)
	}
	return key, false, nil
}

// accept has the job's record written and the job published, with the
// submits that arrive meanwhile (see acceptor), and returns the record to
// answer with.
func (s *Server) accept(ctx context.Context, j job.Job) (job.Record, error) {
	j, err := s.acceptor.accept(j)
	var pe errPublish
	switch {
	case errors.Is(err, errNotStored):
		return job.Record{}, storeUnavailable()
	case errors.As(err, &pe):
		return s.unconfirmed(ctx, j.RequestID)
	}
	return job.Pending(j), nil
}

// unconfirmed settles a job whose publish the broker did not confirm. The
// message may still have reached Kafka, so the record becomes a tombstone
// that no worker computes, and only then is the client told the job was not
// accepted. If a worker finished it first, it was accepted after all; if the
// tombstone cannot be written, the outcome is unknown and the client is
// told to look.
func (s *Server) unconfirmed(ctx context.Context, id string) (job.Record, error) {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	rec, err := s.store.Reject(cleanup, id)
	switch {
	case err == nil:
		return job.Record{}, notAccepted(id)
	case errors.Is(err, store.ErrFinal):
		return rec, nil
	}
	s.log.Error("reject unconfirmed job", "requestId", id, "error", err)
	p := problem(http.StatusServiceUnavailable, "outcome-unknown",
		"the job queue did not confirm the job and it could not be withdrawn: it may still run; GET /sumPrime/"+id+" tells")
	p.retryAfter, p.location, p.RequestID = 5, "/sumPrime/"+id, id
	return job.Record{}, p
}

// writeAccepted answers an accepted job: 202 while it runs, 200 once final.
func (s *Server) writeAccepted(c echo.Context, rec job.Record) error {
	c.Response().Header().Set(echo.HeaderLocation, "/sumPrime/"+rec.RequestID)
	if rec.Status.Final() {
		return writeJSON(c, http.StatusOK, rec)
	}
	left := rec.Planned().Estimate - s.now().Sub(rec.CreatedAt)
	c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(left)))
	return writeJSON(c, http.StatusAccepted, rec)
}

func (s *Server) unclaim(ctx context.Context, key string) {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	if err := s.store.Unclaim(cleanup, key); err != nil {
		s.log.Error("free idempotency key", "error", err)
	}
}

// replay answers a repeated Idempotency-Key (draft-ietf-httpapi-
// idempotency-key-header): the same body gets the original job back, a
// different body is refused, and a first request still being accepted
// asks the client to wait.
func (s *Server) replay(c echo.Context, ctx context.Context, held, want store.Claim) error {
	if held.Fingerprint != want.Fingerprint {
		return problem(http.StatusUnprocessableEntity, "idempotency-key-reused",
			"this Idempotency-Key was already used with a different request body")
	}
	rec, err := s.store.Get(ctx, held.RequestID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		p := problem(http.StatusConflict, "request-in-progress",
			"a request with this Idempotency-Key is still being accepted; retry shortly")
		p.retryAfter = 1
		return p
	case err != nil:
		s.log.Error("read record", "requestId", held.RequestID, "error", err)
		return storeUnavailable()
	}
	return s.writeAccepted(c, rec)
}

// parseIdempotencyKey reads the header's value: a structured-field string
// ("…") or, leniently, a bare token, of 1 to 255 printable characters.
func parseIdempotencyKey(v string) (string, *Problem) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(v) < 1 || len(v) > 255 || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return "", badField("Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters")
	}
	return v, nil
}

// retryAfter is a polling hint in whole seconds, at least one: the
// planner's estimate at submit, and what is left of it on a poll.
func retryAfter(left time.Duration) int {
	return max(1, int(math.Ceil(left.Seconds())))
}

// get answers a poll from the store. With ?wait=, it answers as soon as
// the job is final, or when the wait ends (capped at MaxWait): a long-poll
// that parks the request on the change hub instead of looping.
func (s *Server) get(c echo.Context) error {
	id, p := parseID(c)
	if p != nil {
		return p
	}
	wait, p := parseWait(c.QueryParams()["wait"], s.maxWait)
	if p != nil {
		return p
	}
	var changed <-chan *job.Record
	if wait > 0 {
		holdOpen(c)
		var stop func()
		changed, stop = s.hub.watch(id)
		defer stop()
	}
	rec, err := s.record(c, id)
	if err == nil && wait > 0 {
		rec, err = s.await(c, rec, changed, wait)
	}
	if err != nil || c.Request().Context().Err() != nil {
		return err
	}
	return s.writeRecord(c, rec)
}

// await returns rec once it is final, or as it stands when wait ends or
// the client leaves, waking on the changes of its job (changed, watched
// before rec was read).
func (s *Server) await(c echo.Context, rec job.Record, changed <-chan *job.Record, wait time.Duration) (job.Record, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for !rec.Status.Final() {
		select {
		case carried := <-changed:
			next, err := s.changedRecord(c, rec.RequestID, carried)
			if err != nil {
				return job.Record{}, err
			}
			rec = next
		case <-deadline.C:
			return rec, nil
		case <-c.Request().Context().Done():
			return rec, nil
		case <-s.closing:
			return rec, nil
		}
	}
	return rec, nil
}

// preferWait reads wait=N from Prefer headers (RFC 7240: whole seconds the
// client would wait for a final answer), capped at max; 0 when absent or
// unreadable, since a preference may be ignored.
func preferWait(values []string, max time.Duration) time.Duration {
	for _, v := range values {
		for pref := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(strings.SplitN(pref, ";", 2)[0]), "=")
			if !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`)); err == nil && n > 0 {
				return min(time.Duration(n)*time.Second, max)
			}
		}
	}
	return 0
}

// writeRecord answers with rec and, while it runs, a polling hint: what is
// left of the planner's estimate.
func (s *Server) writeRecord(c echo.Context, rec job.Record) error {
	if !rec.Status.Final() {
		left := rec.Planned().Estimate - s.now().Sub(rec.CreatedAt)
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(left)))
	}
	return writeJSON(c, http.StatusOK, rec)
}

// ready says whether this replica can serve: not shutting down, and both
// Kafka and Redis answer.
func (s *Server) ready(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("shutting down")
	}
	var failed []string
	if err := s.store.Ping(ctx); err != nil {
		failed = append(failed, "redis: "+err.Error())
	}
	if err := s.queue.Ping(ctx); err != nil {
		failed = append(failed, "kafka: "+err.Error())
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// measure counts and times every request by route template, so that ids
// do not explode the label space. Errors are rendered here, through the
// problem handler, so that their status is the one counted.
func measure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		method := c.Request().Method
		metrics.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		metrics.HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

func contextWithTimeout(c echo.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), d)
}

func writeJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(status)
	if rec, ok := v.(job.Record); ok {
		// Most answers: the record's own encoder writes what the Encoder
		// would, without checking and copying its output again.
		data, err := rec.MarshalJSON()
		if err != nil {
			return err
		}
		_, err = c.Response().Write(append(data, '\n'))
		return err
	}
	return jsonEncoder(c.Response()).Encode(v)
}

func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
