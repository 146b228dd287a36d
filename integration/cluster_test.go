package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/app"
	"github.com/sumprimes/sumprimes/internal/testenv"
)

// TestRedisCluster runs the whole pipeline on a real three-master Redis
// Cluster: the API, a worker and a janitor, with rate limits and
// idempotency keys on. Finishing or cancelling a job used to fail there
// with CROSSSLOT, and the worker retried for ever.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Redis.Addrs = testenv.RedisClusterAddrs(t)
	cfg.Janitor.Interval = 100 * time.Millisecond
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	runRole(t, cfg, nil, app.Janitor)

	t.Run("FinishesAJob", func(t *testing.T) {
		if rec := await(t, url, submit(t, url, 1, 1_000_000)); rec.Status != "FINISHED" || *rec.Payload != "37550402023" {
			t.Fatalf("record = %+v, want FINISHED 37550402023", rec)
		}
	})

	t.Run("CancelsAJob", func(t *testing.T) {
		id := submit(t, url, 1, longB)
		req, _ := http.NewRequest(http.MethodDelete, url+"/sumPrime/"+id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := read(t, resp)
		if r.status != http.StatusOK || r.record(t).Status != "CANCELLED" {
			t.Fatalf("DELETE = %d %s, want 200 CANCELLED", r.status, r.body)
		}
	})

	t.Run("ReplaysAnIdempotencyKey", func(t *testing.T) {
		ids := map[string]bool{}
		for range 2 {
			req, _ := http.NewRequest(http.MethodPost, url+"/sumPrime", strings.NewReader(`{"a":1,"b":5000}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", `"cluster-key"`)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r := read(t, resp)
			if r.status != http.StatusAccepted && r.status != http.StatusOK {
				t.Fatalf("POST = %d %s", r.status, r.body)
			}
			ids[r.record(t).RequestID] = true
		}
		if len(ids) != 1 {
			t.Fatalf("two jobs %v for one Idempotency-Key, want one", ids)
		}
	})
}
