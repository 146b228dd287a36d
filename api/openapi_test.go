package api_test

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sumprimes/sumprimes/api"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/ratelimit"
	"github.com/sumprimes/sumprimes/pkg/store"
)

type param struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
}

type operation struct {
	Parameters []param        `yaml:"parameters"`
	Responses  map[string]any `yaml:"responses"`
}

type spec struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Parameters map[string]struct {
			Name string `yaml:"name"`
		} `yaml:"parameters"`
	} `yaml:"components"`
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	var s spec
	if err := yaml.Unmarshal(api.OpenAPI, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// operations returns "METHOD /path" → documented statuses and parameter names.
func (s spec) operations() (map[string][]string, map[string][]string) {
	statuses, params := map[string][]string{}, map[string][]string{}
	for path, item := range s.Paths {
		var shared []param
		if node, ok := item["parameters"]; ok {
			_ = node.Decode(&shared)
		}
		for method, node := range item {
			if method == "parameters" {
				continue
			}
			var op operation
			_ = node.Decode(&op)
			key := strings.ToUpper(method) + " " + path
			for code := range op.Responses {
				statuses[key] = append(statuses[key], code)
			}
			sort.Strings(statuses[key])
			for _, p := range append(shared, op.Parameters...) {
				name := p.Name
				if p.Ref != "" {
					name = s.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")].Name
				}
				params[key] = append(params[key], name)
			}
		}
	}
	return statuses, params
}

// specCase is one request that makes the server answer a given status.
type specCase struct {
	op      string // "METHOD /path" as in the spec
	status  int
	param   string // a documented parameter this case exercises
	prepare func(b *testBundle, l *countingLimiter) (method, path, body string, headers map[string]string)
}

const someID = "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"

const rootKey = "root-key" // an admin's (specServer)

func specServer(t *testing.T) (*testBundle, *countingLimiter, http.Handler) {
	b := &testBundle{store: newStore(), queue: &fakeQueue{}, ops: &fakeOperator{}}
	l := &countingLimiter{allow: 1 << 30, seen: map[string]int{}}
	b.server = api.New(api.Config{
		Store: b.store, Queue: b.queue, Operator: b.ops, Timeout: time.Second,
		Limits:  job.Limits{MaxB: 1e13, MaxCost: 12 * time.Second},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Keys:    []api.Key{{Name: "alice", Secret: aliceKey}, {Name: "root", Secret: rootKey}},
		Admins:  []string{"root"},
		Limiter: l, PublicMetrics: true, // every documented route served
		SubmitLimit: ratelimit.Limit{Rate: 1, Burst: 1}, PollLimit: ratelimit.Limit{Rate: 1, Burst: 1},
	})
	return b, l, b.server
}

func jsonBody(body string) map[string]string {
	return map[string]string{"Content-Type": "application/json"}
}

func withRecord(b *testBundle, status job.Status) {
	j := job.Job{RequestID: someID, A: 1, B: 10, CreatedAt: time.Now(), Owner: "alice"}
	rec := job.Pending(j)
	if status == job.Finished {
		rec = j.Finished("17", time.Now())
	}
	_ = b.store.Put(context.Background(), rec)
}

// prepare makes a case's request; the helpers below build the common ones.
type prepare = func(*testBundle, *countingLimiter) (method, path, body string, headers map[string]string)

// post submits body with the given header pairs.
func post(body string, headers ...string) prepare {
	return func(*testBundle, *countingLimiter) (string, string, string, map[string]string) {
		h := jsonBody(body)
		for i := 0; i+1 < len(headers); i += 2 {
			h[headers[i]] = headers[i+1]
		}
		return http.MethodPost, "/sumPrime", body, h
	}
}

// req sends method to path after setup, if any.
func req(method, path string, setup func(*testBundle, *countingLimiter)) prepare {
	return func(b *testBundle, l *countingLimiter) (string, string, string, map[string]string) {
		if setup != nil {
			setup(b, l)
		}
		return method, path, "", nil
	}
}

// unauthenticated sends method to path with a key that is not one.
func unauthenticated(method, path string) prepare {
	return func(*testBundle, *countingLimiter) (string, string, string, map[string]string) {
		return method, path, "", map[string]string{"Authorization": "Bearer not-a-key"}
	}
}

func found(status job.Status) func(*testBundle, *countingLimiter) {
	return func(b *testBundle, _ *countingLimiter) { withRecord(b, status) }
}

func storeDown(b *testBundle, _ *countingLimiter) { b.store.down.Store(true) }

func limited(_ *testBundle, l *countingLimiter) { l.allow = 0 }

// asAdmin sends method to path with an admin's key after setup, if any.
func asAdmin(method, path string, setup func(*testBundle, *countingLimiter)) prepare {
	return func(b *testBundle, l *countingLimiter) (string, string, string, map[string]string) {
		if setup != nil {
			setup(b, l)
		}
		return method, path, "", map[string]string{"Authorization": "Bearer " + rootKey}
	}
}

// deadLetter lists a dead letter of someID's job, whose record has status.
func deadLetter(status job.Status) func(*testBundle, *countingLimiter) {
	return func(b *testBundle, _ *countingLimiter) {
		j := job.Job{RequestID: someID, A: 1, B: 10, CreatedAt: time.Now(), Owner: "alice"}
		_ = b.store.Create(context.Background(), job.Pending(j))
		final := j.Failed("b is past the worker's limit", time.Now())
		if status == job.Finished {
			final = j.Finished("17", time.Now())
		}
		_ = b.store.Put(context.Background(), final)
		b.ops.letters = append(b.ops.letters,
			queue.DeadLetter{ID: "0-7", Key: someID, Job: &j, Reason: "b is past the worker's limit"},
			queue.DeadLetter{ID: "0-8", Key: "junk", Reason: "not a job"})
	}
}

func opsDown(b *testBundle, _ *countingLimiter) { b.ops.down = true }

// adminCases are the admin API's cases: an admin's key, a client's (403),
// none valid (401), rate-limited, and each dependency down.
func adminCases() []specCase {
	var cases []specCase
	for _, op := range []struct{ method, path, doc string }{
		{http.MethodGet, "/admin/dead-letters", ""},
		{http.MethodDelete, "/admin/dead-letters", ""},
		{http.MethodPost, "/admin/dead-letters/replay", ""},
		{http.MethodPost, "/admin/dead-letters/0-7/replay", "/admin/dead-letters/{deadLetterId}/replay"},
		{http.MethodGet, "/admin/workers", ""},
		{http.MethodGet, "/admin/stats", ""},
	} {
		name := op.method + " " + cmp.Or(op.doc, op.path)
		down := opsDown
		if op.path == "/admin/stats" {
			down = storeDown
		}
		cases = append(cases,
			specCase{name, 401, "", unauthenticated(op.method, op.path)},
			specCase{name, 403, "", req(op.method, op.path, nil)}, // alice is no admin
			specCase{name, 429, "X-API-Key", asAdmin(op.method, op.path, limited)},
			specCase{name, 503, "", asAdmin(op.method, op.path, down)},
		)
	}
	replay := "POST /admin/dead-letters/{deadLetterId}/replay"
	return append(cases,
		specCase{"GET /admin/dead-letters", 200, "limit", asAdmin(http.MethodGet, "/admin/dead-letters?limit=5", deadLetter(job.Failed))},
		specCase{"GET /admin/dead-letters", 400, "limit", asAdmin(http.MethodGet, "/admin/dead-letters?limit=0", nil)},
		specCase{"DELETE /admin/dead-letters", 200, "", asAdmin(http.MethodDelete, "/admin/dead-letters", deadLetter(job.Failed))},
		specCase{"POST /admin/dead-letters/replay", 200, "", asAdmin(http.MethodPost, "/admin/dead-letters/replay", deadLetter(job.Failed))},
		specCase{replay, 202, "deadLetterId", asAdmin(http.MethodPost, "/admin/dead-letters/0-7/replay", deadLetter(job.Failed))},
		specCase{replay, 200, "deadLetterId", asAdmin(http.MethodPost, "/admin/dead-letters/0-7/replay", deadLetter(job.Finished))},
		specCase{replay, 404, "deadLetterId", asAdmin(http.MethodPost, "/admin/dead-letters/9-9/replay", deadLetter(job.Failed))},
		specCase{replay, 409, "deadLetterId", asAdmin(http.MethodPost, "/admin/dead-letters/0-8/replay", deadLetter(job.Failed))},
		specCase{"GET /admin/workers", 200, "", asAdmin(http.MethodGet, "/admin/workers", nil)},
		specCase{"GET /admin/workers", 200, "", asAdmin(http.MethodGet, "/admin/workers", func(b *testBundle, _ *countingLimiter) {
			_ = b.store.ReportSpeed(context.Background(), "worker-1", primes.Speed{Sieve: 2.1, Prefix: 1.6}, time.Now())
		})},
		specCase{"GET /admin/stats", 200, "", asAdmin(http.MethodGet, "/admin/stats", nil)},
	)
}

func specCases() []specCase {
	id := "/sumPrime/" + someID
	cases := []specCase{
		{"POST /sumPrime", 202, "", post(`{"a":1,"b":10}`)},
		{"POST /sumPrime", 200, "Idempotency-Key", func(b *testBundle, l *countingLimiter) (string, string, string, map[string]string) {
			withRecord(b, job.Finished)
			_, _, _ = b.store.Claim(context.Background(), "name:alice:k", store.Claim{RequestID: someID, Fingerprint: "1-10-"})
			return post(`{"a":1,"b":10}`, "Idempotency-Key", "k")(b, l)
		}},
		{"POST /sumPrime", 400, "", post(`{"a":0,"b":10}`)},
		{"POST /sumPrime", 202, "Prefer", post(`{"a":1,"b":10}`, "Prefer", "wait=1")}, // no worker here: 202 when the wait ends
		{"POST /sumPrime", 401, "", post(`{"a":1,"b":10}`, "Authorization", "")},
		{"POST /sumPrime", 409, "Idempotency-Key", func(b *testBundle, l *countingLimiter) (string, string, string, map[string]string) {
			_, _, _ = b.store.Claim(context.Background(), "name:alice:k", store.Claim{RequestID: someID, Fingerprint: "1-10-"})
			return post(`{"a":1,"b":10}`, "Idempotency-Key", "k")(b, l)
		}},
		{"POST /sumPrime", 413, "", post(`{"a":1,"b":10,"x":"` + strings.Repeat("x", 2000) + `"}`)},
		{"POST /sumPrime", 415, "", func(*testBundle, *countingLimiter) (string, string, string, map[string]string) {
			return http.MethodPost, "/sumPrime", `{"a":1,"b":10}`, map[string]string{"Content-Type": "text/plain"}
		}},
		{"POST /sumPrime", 422, "Idempotency-Key", func(b *testBundle, l *countingLimiter) (string, string, string, map[string]string) {
			_, _, _ = b.store.Claim(context.Background(), "name:alice:k", store.Claim{RequestID: someID, Fingerprint: "1-11-"})
			return post(`{"a":1,"b":10}`, "Idempotency-Key", "k")(b, l)
		}},
		{"POST /sumPrime", 429, "X-API-Key", func(b *testBundle, l *countingLimiter) (string, string, string, map[string]string) {
			limited(b, l)
			return post(`{"a":1,"b":10}`, "X-API-Key", aliceKey)(b, l)
		}},
		{"POST /sumPrime", 503, "", func(b *testBundle, l *countingLimiter) (string, string, string, map[string]string) {
			b.queue.down = true
			return post(`{"a":1,"b":10}`)(b, l)
		}},
		{"GET /sumPrime", 200, "status", req(http.MethodGet, "/sumPrime?status=FINISHED", found(job.Finished))},
		{"GET /sumPrime", 200, "limit", req(http.MethodGet, "/sumPrime?limit=1", found(job.Finished))},
		{"GET /sumPrime", 400, "page_token", req(http.MethodGet, "/sumPrime?page_token=bm9wZQ", nil)},
		{"GET /sumPrime", 401, "", unauthenticated(http.MethodGet, "/sumPrime")},
		{"GET /sumPrime", 429, "X-API-Key", req(http.MethodGet, "/sumPrime", limited)},
		{"GET /sumPrime", 503, "", req(http.MethodGet, "/sumPrime", storeDown)},
		{"GET /sumPrime/{id}", 200, "id", req(http.MethodGet, id, found(job.Finished))},
		{"GET /sumPrime/{id}", 200, "wait", req(http.MethodGet, id+"?wait=1s", found(job.Finished))},
		{"GET /sumPrime/{id}", 400, "wait", req(http.MethodGet, id+"?wait=soon", nil)},
		{"GET /sumPrime/{id}", 400, "id", req(http.MethodGet, "/sumPrime/nope", nil)},
		{"GET /sumPrime/{id}", 401, "", unauthenticated(http.MethodGet, id)},
		{"GET /sumPrime/{id}", 404, "", req(http.MethodGet, id, nil)},
		{"GET /sumPrime/{id}", 429, "X-API-Key", req(http.MethodGet, id, limited)},
		{"GET /sumPrime/{id}", 503, "", req(http.MethodGet, id, storeDown)},
		{"DELETE /sumPrime/{id}", 200, "id", req(http.MethodDelete, id, found(job.InProgress))},
		{"DELETE /sumPrime/{id}", 400, "", req(http.MethodDelete, "/sumPrime/nope", nil)},
		{"DELETE /sumPrime/{id}", 401, "", unauthenticated(http.MethodDelete, id)},
		{"DELETE /sumPrime/{id}", 404, "", req(http.MethodDelete, id, nil)},
		{"DELETE /sumPrime/{id}", 409, "", req(http.MethodDelete, id, found(job.Finished))},
		{"DELETE /sumPrime/{id}", 429, "X-API-Key", req(http.MethodDelete, id, limited)},
		{"DELETE /sumPrime/{id}", 503, "", req(http.MethodDelete, id, storeDown)},
		{"GET /sumPrime/{id}/events", 200, "id", req(http.MethodGet, id+"/events", found(job.Finished))},
		{"GET /sumPrime/{id}/events", 400, "", req(http.MethodGet, "/sumPrime/nope/events", nil)},
		{"GET /sumPrime/{id}/events", 401, "", unauthenticated(http.MethodGet, id+"/events")},
		{"GET /sumPrime/{id}/events", 404, "", req(http.MethodGet, id+"/events", nil)},
		{"GET /sumPrime/{id}/events", 429, "X-API-Key", req(http.MethodGet, id+"/events", limited)},
		{"GET /sumPrime/{id}/events", 503, "", req(http.MethodGet, id+"/events", storeDown)},
		{"GET /healthz", 200, "", req(http.MethodGet, "/healthz", nil)},
		{"GET /readyz", 200, "", req(http.MethodGet, "/readyz", nil)},
		{"GET /readyz", 503, "", req(http.MethodGet, "/readyz", storeDown)},
		{"GET /openapi.yaml", 200, "", req(http.MethodGet, "/openapi.yaml", nil)},
		{"GET /", 200, "", req(http.MethodGet, "/", nil)},
		{"GET /metrics", 200, "", req(http.MethodGet, "/metrics", nil)},
	}
	return append(cases, adminCases()...)
}

func TestOpenAPISpec(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	documented, params := sp.operations()

	t.Run("DocumentsExactlyTheRoutesServed", func(t *testing.T) {
		t.Parallel()
		b, _, _ := specServer(t)
		served := b.server.Routes()
		for _, r := range served {
			if _, ok := documented[r]; !ok {
				t.Errorf("route %s is served but not in openapi.yaml", r)
			}
		}
		for op := range documented {
			if !slices.Contains(served, op) {
				t.Errorf("operation %s is in openapi.yaml but not served", op)
			}
		}
	})

	t.Run("DocumentsExactlyTheStatusesAnswered", func(t *testing.T) {
		t.Parallel()
		answered := map[string][]string{}
		exercised := map[string]map[string]bool{}
		for _, c := range specCases() {
			b, l, h := specServer(t)
			method, path, body, headers := c.prepare(b, l)
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.RemoteAddr = "192.0.2.1:1000"
			req.Header.Set("Authorization", "Bearer "+aliceKey) // unless the case says otherwise
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			h.ServeHTTP(rec, req.WithContext(ctx))
			cancel()
			if rec.Code != c.status {
				t.Errorf("%s %s: status %d, want %d (%s)", method, path, rec.Code, c.status, rec.Body)
				continue
			}
			code := strconv.Itoa(rec.Code)
			if !slices.Contains(documented[c.op], code) {
				t.Errorf("%s answers %s, which openapi.yaml does not document", c.op, code)
			}
			answered[c.op] = append(answered[c.op], code)
			if exercised[c.op] == nil {
				exercised[c.op] = map[string]bool{}
			}
			exercised[c.op][c.param] = true
		}
		for op, codes := range documented {
			for _, code := range codes {
				if !slices.Contains(answered[op], code) {
					t.Errorf("openapi.yaml documents %s → %s, which no case produces", op, code)
				}
			}
			for _, p := range params[op] {
				if !exercised[op][p] && !(p == "id" && op == "GET /sumPrime/{id}/events") {
					t.Errorf("parameter %s of %s is documented but never exercised", p, op)
				}
			}
		}
	})
}
