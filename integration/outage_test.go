package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
)

// TestTheAPIUnderAnOutage points the API at a broker and a store that are
// not there: submits and polls must fail fast with 503 problems carrying
// Retry-After, and nothing may be accepted.
func TestTheAPIUnderAnOutage(t *testing.T) {
	t.Parallel()
	for _, down := range []string{"kafka", "redis"} {
		t.Run(down, func(t *testing.T) {
			t.Parallel()
			cfg := testenv.Config(t)
			cfg.HTTP.RequestTimeout = time.Second
			if down == "kafka" {
				cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
			} else {
				cfg.Redis.Addrs = []string{"127.0.0.1:1"}
			}
			url := startAPIUnready(t, cfg)
			start := time.Now()
			r := post(t, url, `{"a": 1, "b": 100}`)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
				r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("POST with %s down = %d %s, want a 503 problem with Retry-After", down, r.status, r.body)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Fatalf("POST took %s with %s down; every external call must be bounded", elapsed, down)
			}
			if r := get(t, url+"/readyz"); r.status != http.StatusServiceUnavailable {
				t.Fatalf("readyz with %s down = %d, want 503", down, r.status)
			}
		})
	}
}
