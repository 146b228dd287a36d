package api_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/api"
	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// faultyStore is the in-memory store (held to Redis's rules by the
// store's conformance suite) with an outage on demand.
type faultyStore struct {
	*store.Memory
	down       atomic.Bool
	rejectDown atomic.Bool // Reject alone fails
}

func newStore() *faultyStore { return &faultyStore{Memory: store.NewMemory(3*time.Minute, nil)} }

func (s *faultyStore) fault() error {
	if s.down.Load() {
		return errors.New("store down")
	}
	return nil
}

func (s *faultyStore) Create(ctx context.Context, r job.Record) error {
	return cmp.Or(s.fault(), s.Memory.Create(ctx, r))
}

func (s *faultyStore) CreateAll(ctx context.Context, recs []job.Record) ([]error, string, error) {
	if err := s.fault(); err != nil {
		return nil, "", err
	}
	return s.Memory.CreateAll(ctx, recs)
}

func (s *faultyStore) List(ctx context.Context, q store.ListQuery) ([]job.Record, string, error) {
	if err := s.fault(); err != nil {
		return nil, "", err
	}
	return s.Memory.List(ctx, q)
}

func (s *faultyStore) Get(ctx context.Context, id string) (job.Record, error) {
	if err := s.fault(); err != nil {
		return job.Record{}, err
	}
	return s.Memory.Get(ctx, id)
}

func (s *faultyStore) Cancel(ctx context.Context, id string) (job.Record, error) {
	if err := s.fault(); err != nil {
		return job.Record{}, err
	}
	return s.Memory.Cancel(ctx, id)
}

func (s *faultyStore) Claim(ctx context.Context, key string, c store.Claim) (store.Claim, bool, error) {
	if err := s.fault(); err != nil {
		return store.Claim{}, false, err
	}
	return s.Memory.Claim(ctx, key, c)
}

func (s *faultyStore) Ping(context.Context) error { return s.fault() }

func (s *faultyStore) Pending(ctx context.Context) (int64, error) {
	if err := s.fault(); err != nil {
		return 0, err
	}
	return s.Memory.Pending(ctx)
}

func (s *faultyStore) Reject(ctx context.Context, id string) (job.Record, error) {
	if s.rejectDown.Load() {
		return job.Record{}, errors.New("store down")
	}
	return s.Memory.Reject(ctx, id)
}

// records counts the records still listed as pending.
func (s *faultyStore) pending() int64 {
	n, _ := s.Memory.Pending(context.Background())
	return n
}

// fakeQueue records published jobs, or fails when down.
type fakeQueue struct {
	mu        sync.Mutex
	published []job.Job
	tried     []job.Job
	down      bool
	// meanwhile, when set, runs during a publish that fails, as a worker
	// that got the message anyway would.
	meanwhile func(job.Job)
}

func (q *fakeQueue) PublishAll(ctx context.Context, jobs []job.Job) []error {
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		errs[i] = q.publish(ctx, j)
	}
	return errs
}

func (q *fakeQueue) publish(_ context.Context, j job.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tried = append(q.tried, j)
	if q.down {
		if q.meanwhile != nil {
			q.meanwhile(j)
		}
		return errors.New("broker down: publish unconfirmed")
	}
	q.published = append(q.published, j)
	return nil
}

func (q *fakeQueue) Ping(context.Context) error {
	if q.down {
		return errors.New("broker down")
	}
	return nil
}
func (q *fakeQueue) Close() error { return nil }

// fakeOperator serves dead letters from a slice, or fails when down.
type fakeOperator struct {
	mu      sync.Mutex
	letters []queue.DeadLetter
	down    bool
}

func (o *fakeOperator) fault() error {
	if o.down {
		return errors.New("broker down")
	}
	return nil
}

func (o *fakeOperator) ListDeadLetters(context.Context, int) ([]queue.DeadLetter, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.letters), o.fault()
}

func (o *fakeOperator) ReadDeadLetter(_ context.Context, id string) (queue.DeadLetter, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range o.letters {
		if d.ID == id {
			return d, o.fault()
		}
	}
	return queue.DeadLetter{}, cmp.Or(o.fault(), queue.ErrNoDeadLetter)
}

func (o *fakeOperator) PurgeDeadLetters(context.Context) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := int64(len(o.letters))
	o.letters = nil
	return n, o.fault()
}

func (o *fakeOperator) Members(context.Context) (map[job.Lane][]queue.Member, error) {
	return map[job.Lane][]queue.Member{job.Light: {{ID: "m-1", Owner: "worker-1", Host: "/192.0.2.9", Partitions: []int{0, 1}}}}, o.fault()
}

func (o *fakeOperator) Lag(context.Context) (queue.Lag, error) {
	return queue.Lag{ByLane: map[job.Lane]map[int]int64{job.Light: {0: 2, 1: 0}, job.Heavy: {0: 0}}}, o.fault()
}

type testBundle struct {
	server *api.Server
	store  *faultyStore
	queue  *fakeQueue
	ops    *fakeOperator
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{store: newStore(), queue: &fakeQueue{}}
	b.server = api.New(api.Config{
		Store:   b.store,
		Queue:   b.queue,
		Limits:  job.Limits{MaxB: 1e19, MaxCost: 12 * time.Second},
		Timeout: 5e9,
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),

		MaxWait:     5 * time.Second,
		ReadTimeout: time.Second, IdleTimeout: time.Second,
		DrainDelay: time.Second, ShutdownTimeout: time.Second,
	})
	return b
}

func (b *testBundle) do(t *testing.T, method, path, contentType, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	b.server.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Field     string `json:"field"`
	RequestID string `json:"requestId"`
}

func TestSubmit(t *testing.T) {
	t.Parallel()

	t.Run("NamesTheGenerationOfAStoreWipedMeanwhile", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		submit := func() job.Job {
			if rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a": 1, "b": 10}`); rec.Code != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body %s", rec.Code, rec.Body)
			}
			return b.queue.published[len(b.queue.published)-1]
		}
		first := submit()
		b.store.Wipe() // Redis restarted empty: a new generation
		second := submit()
		gen, _ := b.store.Generation(context.Background())
		stored, err := b.store.Get(context.Background(), second.RequestID)
		if second.Generation == first.Generation || second.Generation != gen || err != nil || stored.Generation != gen {
			t.Fatalf("after the wipe: published under %q, stored under %q (%v); want the store's new %q in both (before: %q)",
				second.Generation, stored.Generation, err, gen, first.Generation)
		}
	})

	t.Run("AcceptsAValidRangeWithLocationAndRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a": 1, "b": 1000000}`)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status = %d, want 202; body %s", rec.Code, rec.Body)
		}
		got := decode[map[string]any](t, rec)
		id, _ := got["requestId"].(string)
		if got["status"] != "IN_PROGRESS" || got["payload"] != nil || id == "" {
			t.Fatalf("body = %v, want IN_PROGRESS with null payload and an id", got)
		}
		if gen, _ := b.store.Generation(context.Background()); got["generation"] != gen || b.queue.published[0].Generation != gen {
			t.Errorf("generation answered %v, published %q; want the store's %q in both", got["generation"], b.queue.published[0].Generation, gen)
		}
		if loc := rec.Header().Get("Location"); loc != "/sumPrime/"+id {
			t.Errorf("Location = %q, want /sumPrime/%s", loc, id)
		}
		if rec.Header().Get("Retry-After") == "" {
			t.Error("Retry-After header missing")
		}
		if len(b.queue.published) != 1 || b.queue.published[0].RequestID != id || b.queue.published[0].B != 1000000 {
			t.Errorf("published = %+v, want the job %s", b.queue.published, id)
		}
		if r, err := b.store.Get(context.Background(), id); err != nil || r.Status != job.InProgress {
			t.Errorf("stored record = %+v, %v; want IN_PROGRESS", r, err)
		}
	})

	t.Run("GivesEachRequestAFreshUUIDv4", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		seen := map[string]bool{}
		for range 20 {
			rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":2,"b":3}`)
			id := decode[job.Record](t, rec).RequestID
			if len(id) != 36 || id[14] != '4' || seen[id] {
				t.Fatalf("id %q is not a fresh UUID v4", id)
			}
			seen[id] = true
		}
	})
}

// TestSubmitRejectsBadInput: every bad field is a 400 problem naming it.
func TestSubmitRejectsBadInput(t *testing.T) {
	t.Parallel()

	t.Run("RejectsBadInputWithAProblemNamingTheField", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name, body, field string
		}{
			{"MalformedJSON", `{"a":1,`, ""},
			{"NotAnObject", `[1, 2]`, ""},
			{"Null", `null`, ""},
			{"TrailingData", `{"a":1,"b":2} {}`, ""},
			{"MissingA", `{"b": 10}`, "a"},
			{"MissingB", `{"a": 10}`, "b"},
			{"StringA", `{"a": "1", "b": 10}`, "a"},
			{"FloatB", `{"a": 1, "b": 10.5}`, "b"},
			{"ExponentB", `{"a": 1, "b": 1e6}`, "b"},
			{"BooleanA", `{"a": true, "b": 10}`, "a"},
			{"NullB", `{"a": 1, "b": null}`, "b"},
			{"ArrayA", `{"a": [1], "b": 10}`, "a"},
			{"NegativeA", `{"a": -5, "b": 10}`, "a"},
			{"ZeroA", `{"a": 0, "b": 10}`, "a"},
			{"AGreaterThanB", `{"a": 10, "b": 5}`, "a"},
			{"BOverMaxB", `{"a": 1, "b": 10000000000000000001}`, "b"},
			{"TooCostly", `{"a": 1, "b": 10000000000000000000}`, "b"},
			{"BeyondUint64", `{"a": 1, "b": 99999999999999999999999}`, "b"},
			{"UnknownField", `{"a": 1, "b": 2, "c": 3}`, "c"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", c.body)
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("status = %d, want 400; body %s", rec.Code, rec.Body)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				p := decode[problemBody](t, rec)
				if p.Status != 400 || p.Detail == "" || p.Field != c.field {
					t.Errorf("problem = %+v, want status 400, a detail and field %q", p, c.field)
				}
				if len(b.queue.published) != 0 || b.store.pending() != 0 {
					t.Error("a rejected request left a job or a record behind")
				}
			})
		}
	})
}

// TestSubmitRefusesMalformedRequests: bodies and headers that are not a submit.
func TestSubmitRefusesMalformedRequests(t *testing.T) {
	t.Parallel()

	t.Run("RejectsANonJSONContentType", func(t *testing.T) {
		t.Parallel()
		rec := setup(t).do(t, http.MethodPost, "/sumPrime", "application/x-www-form-urlencoded", `{"a":1,"b":2}`)
		if rec.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("status = %d, want 415", rec.Code)
		}
	})

	t.Run("RejectsAnOversizedBody", func(t *testing.T) {
		t.Parallel()
		rec := setup(t).do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":2,"pad":"`+strings.Repeat("x", 2000)+`"}`)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type = %q, want application/problem+json", ct)
		}
	})

	t.Run("RefusesRepeatedFieldsNamingThem", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"a":2,"b":5}`)
		if p := decode[problemBody](t, rec); rec.Code != http.StatusBadRequest || p.Field != "a" {
			t.Fatalf("answer = %d %+v, want 400 naming a", rec.Code, p)
		}
	})
}

// TestSubmitWhenDependenciesFail: what a submit promises when the broker does
// not confirm the publish.
func TestSubmitWhenDependenciesFail(t *testing.T) {
	t.Parallel()

	t.Run("WithdrawsAJobWhosePublishIsUnconfirmed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.queue.down = true
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":100}`)
		if p := decode[problemBody](t, rec); rec.Code != http.StatusServiceUnavailable || p.Type != "urn:sumprimes:problem:not-accepted" {
			t.Fatalf("answer = %d %+v, want 503 not-accepted", rec.Code, p)
		}
		if rec.Header().Get("Retry-After") == "" {
			t.Error("Retry-After header missing on 503")
		}
		if b.store.pending() != 0 {
			t.Errorf("%d records pending, want the unconfirmed job withdrawn", b.store.pending())
		}
		// The message may have reached Kafka all the same: no worker may
		// finish it, and no one sees it.
		j := b.queue.tried[0]
		if err := b.store.Put(context.Background(), j.Finished("1060", time.Now())); !errors.Is(err, store.ErrFinal) {
			t.Errorf("a worker's result over the withdrawn job = %v, want ErrFinal", err)
		}
		if got := b.do(t, http.MethodGet, "/sumPrime/"+j.RequestID, "", ""); got.Code != http.StatusNotFound {
			t.Errorf("GET of the withdrawn job = %d, want 404", got.Code)
		}
	})

	t.Run("AnswersWithTheResultWhenAWorkerFinishedTheUnconfirmedJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.queue.down = true
		b.queue.meanwhile = func(j job.Job) { _ = b.store.Put(context.Background(), j.Finished("1060", time.Now())) }
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":100}`)
		if got := decode[job.Record](t, rec); rec.Code != http.StatusOK || got.Status != job.Finished || *got.Payload != "1060" {
			t.Fatalf("answer = %d %s, want 200 with the FINISHED record: it was accepted after all", rec.Code, rec.Body)
		}
	})

	t.Run("SaysTheOutcomeIsUnknownWhenTheJobCannotBeWithdrawn", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.queue.down = true
		b.store.rejectDown.Store(true)
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":100}`, "Idempotency-Key", `"k"`)
		p := decode[problemBody](t, rec)
		if rec.Code != http.StatusServiceUnavailable || p.Type != "urn:sumprimes:problem:outcome-unknown" || p.RequestID == "" ||
			rec.Header().Get("Location") != "/sumPrime/"+p.RequestID {
			t.Fatalf("answer = %d %+v (Location %q), want 503 outcome-unknown naming the job", rec.Code, p, rec.Header().Get("Location"))
		}
		b.queue.down = false // the same key again finds the same job, not a second one
		if again := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":100}`, "Idempotency-Key", `"k"`); decode[job.Record](t, again).RequestID != p.RequestID {
			t.Fatalf("retry = %d %s, want the job of the first attempt", again.Code, again.Body)
		}
	})
}

// TestSubmitWhenBehindOrDown: nothing is accepted while the workers are behind
// or the store is down.
func TestSubmitWhenBehindOrDown(t *testing.T) {
	t.Parallel()

	t.Run("RefusesSubmitsWhileTheBacklogIsOverItsBound", func(t *testing.T) {
		t.Parallel()
		backlog := int64(11)
		read := make(chan struct{}, 1)
		srv := api.New(api.Config{
			Store: newStore(), Queue: &fakeQueue{},
			Limits: job.Limits{MaxB: 1e13, MaxCost: time.Minute}, Timeout: time.Second,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Backlog: func(context.Context) (int64, error) {
				select {
				case read <- struct{}{}:
				default:
				}
				return backlog, nil
			},
			MaxBacklog:  10,
			ReadTimeout: time.Second, IdleTimeout: time.Second, ShutdownTimeout: time.Second,
		})
		addr := serve(t, &testBundle{server: srv})
		<-read
		<-read // a second read: the gauge has kept the first
		resp, err := http.Post("http://"+addr+"/sumPrime", "application/json", strings.NewReader(`{"a":1,"b":100}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("status = %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})

	t.Run("AnswersUnavailableWhenTheStoreIsDown", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.store.down.Store(true)
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":100}`)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", rec.Code)
		}
		if len(b.queue.published) != 0 {
			t.Error("published a job whose record could not be written")
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	post := func(t *testing.T, b *testBundle, body, key string) *httptest.ResponseRecorder {
		return b.do(t, http.MethodPost, "/sumPrime", "application/json", body, "Idempotency-Key", key)
	}

	t.Run("ReturnsTheOriginalJobForARepeat", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := post(t, b, `{"a":1,"b":100}`, `"order-17"`)
		again := post(t, b, `{"b": 100, "a": 1}`, `"order-17"`)
		if first.Code != http.StatusAccepted || again.Code != http.StatusAccepted {
			t.Fatalf("statuses %d, %d; want 202 twice", first.Code, again.Code)
		}
		if id1, id2 := decode[job.Record](t, first).RequestID, decode[job.Record](t, again).RequestID; id1 != id2 {
			t.Fatalf("ids %s and %s; want the same job", id1, id2)
		}
		if len(b.queue.published) != 1 {
			t.Fatalf("published %d jobs, want 1", len(b.queue.published))
		}

		j := b.queue.published[0]
		_ = b.store.Put(context.Background(), j.Finished("1060", j.CreatedAt))
		if done := post(t, b, `{"a":1,"b":100}`, `"order-17"`); done.Code != http.StatusOK || decode[job.Record](t, done).Status != job.Finished {
			t.Fatalf("repeat after finishing = %d %s, want 200 FINISHED", done.Code, done.Body)
		}
	})

	t.Run("RefusesTheSameKeyWithADifferentBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		post(t, b, `{"a":1,"b":100}`, "k")
		rec := post(t, b, `{"a":1,"b":101}`, "k")
		if rec.Code != http.StatusUnprocessableEntity || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("status = %d, want a 422 problem", rec.Code)
		}
	})

	t.Run("FreesTheKeyWhenTheJobIsNotAccepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.queue.down = true
		if rec := post(t, b, `{"a":1,"b":100}`, "k"); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", rec.Code)
		}
		b.queue.down = false
		if rec := post(t, b, `{"a":1,"b":100}`, "k"); rec.Code != http.StatusAccepted {
			t.Fatalf("retry = %d, want 202: a refused request must not hold its key", rec.Code)
		}
	})

	t.Run("RejectsMalformedKeys", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, key := range []string{`""`, strings.Repeat("x", 256), "tab\there"} {
			if rec := post(t, b, `{"a":1,"b":100}`, key); rec.Code != http.StatusBadRequest {
				t.Errorf("key %q: status %d, want 400", key, rec.Code)
			}
		}
	})
}

func TestGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsTheStoredRecord", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := decode[job.Record](t, b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":10}`)).RequestID
		rec := b.do(t, http.MethodGet, "/sumPrime/"+id, "", "")
		if rec.Code != http.StatusOK || decode[job.Record](t, rec).Status != job.InProgress {
			t.Fatalf("GET = %d %s, want 200 IN_PROGRESS", rec.Code, rec.Body)
		}
		if rec.Header().Get("Retry-After") == "" {
			t.Error("Retry-After missing while in progress")
		}

		j := b.queue.published[0]
		_ = b.store.Put(context.Background(), j.Finished("17", j.CreatedAt))
		rec = b.do(t, http.MethodGet, "/sumPrime/"+id, "", "")
		got := decode[map[string]any](t, rec)
		if got["status"] != "FINISHED" || got["payload"] != "17" {
			t.Fatalf("GET = %v, want FINISHED with payload \"17\" (a JSON string)", got)
		}
	})

	t.Run("AnswersNotFoundForAnUnknownID", func(t *testing.T) {
		t.Parallel()
		rec := setup(t).do(t, http.MethodGet, "/sumPrime/3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", "", "")
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("GET = %d %s, want a 404 problem", rec.Code, rec.Header().Get("Content-Type"))
		}
	})

	t.Run("AnswersBadRequestForAMalformedID", func(t *testing.T) {
		t.Parallel()
		rec := setup(t).do(t, http.MethodGet, "/sumPrime/not-a-uuid", "", "")
		if rec.Code != http.StatusBadRequest || decode[problemBody](t, rec).Field != "id" {
			t.Fatalf("GET = %d %s, want a 400 problem naming id", rec.Code, rec.Body)
		}
	})

	t.Run("AnswersUnavailableWhenTheStoreIsDown", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.store.down.Store(true)
		rec := b.do(t, http.MethodGet, "/sumPrime/3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", "", "")
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", rec.Code)
		}
	})
}

func TestRoutes(t *testing.T) {
	t.Parallel()

	t.Run("AnswersWrongMethodsWith405", func(t *testing.T) {
		t.Parallel()
		rec := setup(t).do(t, http.MethodPut, "/sumPrime", "application/json", `{}`)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("PUT = %d %s, want a 405 problem", rec.Code, rec.Header().Get("Content-Type"))
		}
	})

	t.Run("AnswersUnknownPathsWith404", func(t *testing.T) {
		t.Parallel()
		rec := setup(t).do(t, http.MethodGet, "/nope", "", "")
		if rec.Code != http.StatusNotFound {
			t.Fatalf("GET /nope = %d, want 404", rec.Code)
		}
	})

	t.Run("ReportsReadinessFromBothDependencies", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if rec := b.do(t, http.MethodGet, "/readyz", "", ""); rec.Code != http.StatusOK {
			t.Fatalf("readyz = %d, want 200", rec.Code)
		}
		b.queue.down = true
		rec := b.do(t, http.MethodGet, "/readyz", "", "")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(decode[problemBody](t, rec).Detail, "kafka") {
			t.Fatalf("readyz = %d %s, want 503 naming kafka", rec.Code, rec.Body)
		}
		if rec := b.do(t, http.MethodGet, "/healthz", "", ""); rec.Code != http.StatusOK {
			t.Fatalf("healthz = %d, want 200 while only a dependency is down", rec.Code)
		}
	})
}

// TestServeEndsStreamsAtShutdown: the long-polls and event streams open
// when shutdown begins end at once (the stream with a reconnect event), and
// Serve returns nil within ShutdownTimeout.
func TestServeEndsStreamsAtShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a": 1, "b": 1000000}`)
	id := decode[map[string]any](t, rec)["requestId"].(string)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/sumPrime/" + id
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.server.Serve(ctx, ln) }()

	poll := make(chan int, 1)
	go func() {
		resp, err := http.Get(url + "?wait=5s")
		if err != nil {
			poll <- 0
			return
		}
		resp.Body.Close()
		poll <- resp.StatusCode
	}()
	var stream *http.Response
	client := &http.Client{Timeout: 30 * time.Second} // a stream kept open fails the test, not hangs it
	testenv.Eventually(t, 5*time.Second, "the event stream to open", func() bool {
		stream, err = client.Get(url + "/events")
		return err == nil
	})
	defer stream.Body.Close()
	events := bufio.NewReader(stream.Body)
	if line, _ := events.ReadString('\n'); line != "event: progress\n" {
		t.Fatalf("first line %q, want the progress event", line)
	}
	cancel() // shutdown begins; the job is still in progress
	rest, _ := io.ReadAll(events)
	if !strings.HasSuffix(string(rest), "retry: 1000\nevent: reconnect\n\n") {
		t.Errorf("the stream ended with %q, want a reconnect event", rest)
	}
	if status := <-poll; status != http.StatusOK {
		t.Errorf("the long-poll answered %d, want 200 with the record as it stands", status)
	}
	// ShutdownTimeout is a second: open streams no longer run it out.
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v with a stream open at shutdown, want nil", err)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()

	t.Run("FailsReadinessButKeepsServingDuringTheDrainDelay", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.server.Serve(ctx, ln) }()
		readyz := func() int {
			resp, err := http.Get(url + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		testenv.Eventually(t, 5*time.Second, "the server to be ready", func() bool { return readyz() == http.StatusOK })
		cancel()
		testenv.Eventually(t, 5*time.Second, "readiness to fail at shutdown", func() bool { return readyz() == http.StatusServiceUnavailable })
		resp, err := http.Get(url + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz while draining = %v, %v; want 200", resp, err)
		}
		resp.Body.Close()
		if err := <-done; err != nil {
			t.Fatalf("Serve returned %v after a clean shutdown", err)
		}
	})
}

// TestMetricsStayOffThePublicPort: /metrics is the ops listener's unless
// http.public_metrics asks the API to serve it too.
func TestMetricsStayOffThePublicPort(t *testing.T) {
	t.Parallel()
	if rec := setup(t).do(t, http.MethodGet, "/metrics", "", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /metrics on the public port = %d, want 404", rec.Code)
	}
}

// TestEstimatesInTheFleetsSeconds: once the workers have reported their
// speed, an accepted job's estimate is the planner's scaled by the
// fleet's median, while the lane (and the limits) keep to the planner's
// reference seconds.
func TestEstimatesInTheFleetsSeconds(t *testing.T) {
	t.Parallel()
	st, q := newStore(), &fakeQueue{}
	slow := primes.Speed{Sieve: 2, Prefix: 3}
	for _, w := range []string{"worker-1", "worker-2"} {
		if err := st.ReportSpeed(context.Background(), w, slow, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ref := primes.PlanRange(1, 1e8)
	server := api.New(api.Config{
		Store: st, Queue: q, Limits: job.Limits{MaxB: 1e19, MaxCost: 12 * time.Second},
		HeavyFrom: ref.Estimate * 3 / 2, FleetSpeedEvery: 10 * time.Millisecond,
		Timeout: 5e9, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxWait: time.Second, ReadTimeout: time.Second, IdleTimeout: time.Second,
		DrainDelay: time.Millisecond, ShutdownTimeout: time.Second,
	})
	b := &testBundle{server: server, store: st, queue: q}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	want := ref.On(slow).Estimate
	var last job.Job
	testenv.Eventually(t, 5*time.Second, "an estimate in the fleet's seconds", func() bool {
		if rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a": 1, "b": 100000000}`); rec.Code != http.StatusAccepted {
			t.Fatalf("status = %d, want 202; body %s", rec.Code, rec.Body)
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		last = q.published[len(q.published)-1]
		return last.Plan.Estimate == want
	})
	if last.Plan.Engine != ref.Engine || last.Lane != job.Light {
		t.Fatalf("job planned %s in the %s lane; want the planner's engine %s, in the light lane as its reference estimate %s says",
			last.Plan.Engine, last.Lane, ref.Engine, ref.Estimate)
	}
	rec, err := st.Get(context.Background(), last.RequestID)
	if err != nil || rec.Plan.Estimate != want {
		t.Fatalf("record %+v, %v; want its estimate %s", rec.Plan, err, want)
	}
}
