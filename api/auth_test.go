package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/api"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/ratelimit"
)

// The keys of the tests: alice holds two (one being rotated in), bob one.
const aliceKey, aliceNewKey, bobKey = "alice-key-1", "alice-key-2", "bob-key"

func withKeys(t *testing.T, cors ...string) (*testBundle, *countingLimiter) {
	t.Helper()
	b := &testBundle{store: newStore(), queue: &fakeQueue{}}
	l := &countingLimiter{allow: 1 << 30, seen: map[string]int{}}
	b.server = api.New(api.Config{
		Store: b.store, Queue: b.queue, Timeout: time.Second, MaxWait: time.Second,
		Limits:      job.Limits{MaxB: 1e13, MaxCost: 12 * time.Second},
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Keys:        []api.Key{{Name: "alice", Secret: aliceKey}, {Name: "alice", Secret: aliceNewKey}, {Name: "bob", Secret: bobKey}},
		CORSOrigins: cors,
		Limiter:     l, SubmitLimit: ratelimit.Limit{Rate: 1, Burst: 1}, PollLimit: ratelimit.Limit{Rate: 1, Burst: 1},
	})
	return b, l
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

func TestAuthentication(t *testing.T) {
	t.Parallel()

	t.Run("RefusesARequestWithoutAKey", func(t *testing.T) {
		t.Parallel()
		b, _ := withKeys(t)
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":10}`)
		if p := decode[problemBody](t, rec); rec.Code != http.StatusUnauthorized || p.Type != "urn:sumprimes:problem:unauthorized" ||
			rec.Header().Get("WWW-Authenticate") != `Bearer realm="sumprimes"` {
			t.Fatalf("answer = %d %+v (WWW-Authenticate %q), want 401 with a Bearer challenge", rec.Code, p, rec.Header().Get("WWW-Authenticate"))
		}
		if len(b.queue.tried) != 0 {
			t.Fatal("an unauthenticated submit reached the queue")
		}
	})

	t.Run("RefusesAWrongKey", func(t *testing.T) {
		t.Parallel()
		b, _ := withKeys(t)
		rec := b.do(t, http.MethodGet, "/sumPrime/"+someID, "", "", bearer("guess")...)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("answer = %d (WWW-Authenticate %q), want 401 invalid_token", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	})

	t.Run("RecordsTheOwnerWhicheverOfItsKeysItSends", func(t *testing.T) {
		t.Parallel()
		b, l := withKeys(t)
		rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":10}`, bearer(aliceKey)...)
		j := decode[job.Record](t, rec)
		if rec.Code != http.StatusAccepted || j.Owner != "alice" {
			t.Fatalf("answer = %d %s, want 202 owned by alice", rec.Code, rec.Body)
		}
		for _, headers := range [][]string{bearer(aliceNewKey), {"X-API-Key", aliceKey}} {
			if got := b.do(t, http.MethodGet, "/sumPrime/"+j.RequestID, "", "", headers...); got.Code != http.StatusOK {
				t.Fatalf("GET with %v = %d, want 200: the same client", headers, got.Code)
			}
		}
		if l.seen["poll:name:alice"] != 2 || l.seen["submit:name:alice"] != 1 {
			t.Fatalf("rate-limit buckets %v, want alice's by name whatever the key", l.seen)
		}
	})
}

// TestAuthenticationScopes: what a client reaches is its own.
func TestAuthenticationScopes(t *testing.T) {
	t.Parallel()

	t.Run("HidesAJobFromEveryOtherClient", func(t *testing.T) {
		t.Parallel()
		b, _ := withKeys(t)
		j := decode[job.Record](t, b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":10}`, bearer(aliceKey)...))
		id := "/sumPrime/" + j.RequestID
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, id}, {http.MethodGet, id + "?wait=1s"}, {http.MethodGet, id + "/events"}, {http.MethodDelete, id},
		} {
			if got := b.do(t, r.method, r.path, "", "", bearer(bobKey)...); got.Code != http.StatusNotFound {
				t.Errorf("bob's %s %s = %d, want 404 as if it did not exist", r.method, r.path, got.Code)
			}
		}
		if got, _ := b.store.Get(t.Context(), j.RequestID); got.Status != job.InProgress {
			t.Fatalf("status = %s, want alice's job untouched", got.Status)
		}
	})

	t.Run("ScopesIdempotencyKeysByClient", func(t *testing.T) {
		t.Parallel()
		b, _ := withKeys(t)
		submit := func(key string) string {
			rec := b.do(t, http.MethodPost, "/sumPrime", "application/json", `{"a":1,"b":10}`, "Authorization", "Bearer "+key, "Idempotency-Key", `"k"`)
			return decode[job.Record](t, rec).RequestID
		}
		alice, aliceAgain, bob := submit(aliceKey), submit(aliceNewKey), submit(bobKey)
		if alice != aliceAgain || alice == bob {
			t.Fatalf("jobs alice %s, alice again %s, bob %s: want alice's key to be hers alone", alice, aliceAgain, bob)
		}
	})

	t.Run("LeavesProbesAndDocumentsOpen", func(t *testing.T) {
		t.Parallel()
		b, _ := withKeys(t)
		for _, path := range []string{"/", "/openapi.yaml", "/healthz", "/readyz"} {
			if rec := b.do(t, http.MethodGet, path, "", ""); rec.Code != http.StatusOK {
				t.Errorf("GET %s without a key = %d, want 200", path, rec.Code)
			}
		}
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(b *testBundle) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/sumPrime", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		rec := httptest.NewRecorder()
		b.server.ServeHTTP(rec, req)
		return rec
	}

	t.Run("AnswersAllowedOrigins", func(t *testing.T) {
		t.Parallel()
		b, _ := withKeys(t, "https://app.example")
		rec := preflight(b)
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("preflight = %d %v, want 204 allowing the origin and Authorization", rec.Code, rec.Header())
		}
	})

	t.Run("SendsNoCORSHeadersByDefault", func(t *testing.T) {
		t.Parallel()
		b, _ := withKeys(t)
		if rec := preflight(b); rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight headers %v, want no CORS headers without http.cors_origins", rec.Header())
		}
	})
}
