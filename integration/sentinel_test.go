package integration

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/app"
	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/primes"
)

// TestRedisSentinel runs the pipeline on a Redis Sentinel set (master,
// replica, and a sentinel behind its own password) and has the sentinel
// promote the replica while jobs are being submitted and computed: every
// job that got a 202 must finish with the right sum. It needs the set
// scripts/redis-sentinel.sh starts (make test does).
func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Redis.Addrs = []string{testenv.RedisSentinelAddr(t)}
	cfg.Redis.MasterName, cfg.Redis.SentinelPassword = "sumprimes", "sentinel-secret"
	cfg.Redis.WaitReplicas = 1 // a failover must not lose an accepted job
	cfg.HTTP.RequestTimeout = 2 * time.Second
	cfg.Janitor.Interval, cfg.Janitor.StaleAfter = 200*time.Millisecond, 3*time.Second
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	runRole(t, cfg, nil, app.Janitor)

	const jobs, failoverAt = 300, 100
	var (
		mu       sync.Mutex
		accepted = map[string]uint64{}
		sent     atomic.Int64
		wg       sync.WaitGroup
		failover = make(chan struct{})
	)
	for c := range 4 {
		wg.Go(func() {
			for i := c; i < jobs; i += 4 {
				if sent.Add(1) == failoverAt {
					close(failover)
				}
				b := uint64(1000 + i)
				r := post(t, url, fmt.Sprintf(`{"a":1,"b":%d}`, b))
				if r.status == http.StatusAccepted {
					mu.Lock()
					accepted[r.record(t).RequestID] = b
					mu.Unlock()
				}
			}
		})
	}
	<-failover
	script(t, "redis-sentinel.sh", "failover")
	wg.Wait()

	for id, b := range accepted {
		want, _ := primes.SumRange(context.Background(), 1, b, primes.Options{Threads: 1})
		if rec := await(t, url, id); rec.Status != "FINISHED" || *rec.Payload != want.String() {
			t.Fatalf("job %s = %+v, want FINISHED %s", id, rec, want)
		}
	}
	t.Logf("failover under load: %d of %d submits accepted, all finished", len(accepted), jobs)
	if len(accepted) < jobs/2 {
		t.Fatalf("only %d of %d submits accepted", len(accepted), jobs)
	}
}
