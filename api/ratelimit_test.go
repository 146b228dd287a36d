package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/api"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/ratelimit"
)

// countingLimiter allows each key its first `allow` requests.
type countingLimiter struct {
	mu    sync.Mutex
	allow int
	seen  map[string]int
	down  bool
}

func (l *countingLimiter) Allow(_ context.Context, key string, _ ratelimit.Limit) (ratelimit.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ratelimit.Result{}, errors.New("redis down")
	}
	l.seen[key]++
	if l.seen[key] > l.allow {
		return ratelimit.Result{RetryAfter: 1500 * time.Millisecond, Reset: 3 * time.Second}, nil
	}
	return ratelimit.Result{Allowed: true, Remaining: l.allow - l.seen[key], Reset: time.Second}, nil
}

func (l *countingLimiter) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k := range l.seen {
		out = append(out, k)
	}
	return out
}

func limitedServer(t *testing.T, allow int, trusted ...string) (*api.Server, *countingLimiter) {
	t.Helper()
	var proxies []*net.IPNet
	for _, cidr := range trusted {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		proxies = append(proxies, n)
	}
	l := &countingLimiter{allow: allow, seen: map[string]int{}}
	srv := api.New(api.Config{
		Store:          newStore(),
		Queue:          &fakeQueue{},
		Limits:         job.Limits{MaxB: 1e13, MaxCost: 12 * time.Second},
		Timeout:        time.Second,
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limiter:        l,
		SubmitLimit:    ratelimit.Limit{Rate: 1, Burst: allow},
		PollLimit:      ratelimit.Limit{Rate: 1, Burst: allow},
		APIKeyHeader:   "X-API-Key",
		TrustedProxies: proxies,
	})
	return srv, l
}

func poll(srv *api.Server, remote string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/sumPrime/3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", nil)
	req.RemoteAddr = remote
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

func TestRateLimits(t *testing.T) {
	t.Parallel()

	t.Run("Answers429WithRetryAfterOnceTheBudgetIsSpent", func(t *testing.T) {
		t.Parallel()
		srv, _ := limitedServer(t, 3)
		for i := range 3 {
			rec := poll(srv, "192.0.2.1:1000", nil)
			if rec.Code == http.StatusTooManyRequests {
				t.Fatalf("request %d limited within the budget", i+1)
			}
			if rec.Header().Get("RateLimit-Limit") != "3" || rec.Header().Get("RateLimit-Remaining") == "" {
				t.Fatalf("RateLimit headers missing: %v", rec.Header())
			}
		}
		rec := poll(srv, "192.0.2.1:1000", nil)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" ||
			rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("over budget = %d, Retry-After %q, %q; want a 429 problem with Retry-After 2",
				rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Content-Type"))
		}
	})

	t.Run("KeepsSeparateBudgetsForSubmitsAndPolls", func(t *testing.T) {
		t.Parallel()
		srv, _ := limitedServer(t, 1)
		poll(srv, "192.0.2.1:1000", nil)
		req := httptest.NewRequest(http.MethodPost, "/sumPrime", strings.NewReader(`{"a":1,"b":2}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.1:1000"
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("submit after a poll = %d, want 202", rec.Code)
		}
	})

	t.Run("TellsClientsApartByAPIKeyThenByAddress", func(t *testing.T) {
		t.Parallel()
		srv, l := limitedServer(t, 1)
		poll(srv, "192.0.2.1:1000", map[string]string{"X-API-Key": "alice"})
		poll(srv, "192.0.2.1:1000", map[string]string{"X-API-Key": "bob"})
		poll(srv, "192.0.2.1:1000", nil)
		if rec := poll(srv, "192.0.2.2:1000", nil); rec.Code == http.StatusTooManyRequests {
			t.Fatal("a second address shares the first one's budget")
		}
		keys := strings.Join(l.keys(), " ")
		if len(l.keys()) != 4 || strings.Contains(keys, "alice") {
			t.Fatalf("budgets = %v; want four, with API keys hashed", l.keys())
		}
	})
}

// TestRateLimitsBehindProxies: whose address a request comes from, and when the
// limiter itself fails.
func TestRateLimitsBehindProxies(t *testing.T) {
	t.Parallel()

	t.Run("IgnoresXForwardedForFromUntrustedPeers", func(t *testing.T) {
		t.Parallel()
		srv, _ := limitedServer(t, 1)
		poll(srv, "192.0.2.1:1000", map[string]string{"X-Forwarded-For": "198.51.100.1"})
		rec := poll(srv, "192.0.2.1:1000", map[string]string{"X-Forwarded-For": "198.51.100.2"})
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("a spoofed X-Forwarded-For bought a fresh budget (status %d)", rec.Code)
		}
	})

	t.Run("HonoursXForwardedForFromTrustedProxies", func(t *testing.T) {
		t.Parallel()
		srv, _ := limitedServer(t, 1, "10.0.0.0/8")
		poll(srv, "10.1.1.1:1000", map[string]string{"X-Forwarded-For": "198.51.100.1"})
		rec := poll(srv, "10.1.1.1:1000", map[string]string{"X-Forwarded-For": "198.51.100.2"})
		if rec.Code == http.StatusTooManyRequests {
			t.Fatal("two clients behind a trusted proxy share one budget")
		}
	})

	t.Run("LetsRequestsThroughWhenTheLimiterIsDown", func(t *testing.T) {
		t.Parallel()
		srv, l := limitedServer(t, 0)
		l.down = true
		if rec := poll(srv, "192.0.2.1:1000", nil); rec.Code != http.StatusNotFound {
			t.Fatalf("status = %d, want the request handled (404 for an unknown id)", rec.Code)
		}
	})
}
