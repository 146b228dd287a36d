//go:build chaos

package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
)

// TestChaos is `make chaos`: a few thousand jobs submitted while a worker
// process is killed with SIGKILL, the Redis server restarts and the Kafka
// broker restarts. Every job that got a 202 must end FINISHED with the
// right sum. It needs the services started by scripts/ (they restart them).
func TestChaos(t *testing.T) {
	const jobs = 2000
	cfg := testenv.Config(t)
	cfg.Kafka.Partitions = 6
	cfg.HTTP.RequestTimeout = 2 * time.Second
	cfg.Janitor.Interval, cfg.Janitor.StaleAfter = 500*time.Millisecond, 3*time.Second
	url := startAPI(t, cfg)
	workers := []*process{startProcess(t, cfg, "worker"), startProcess(t, cfg, "worker")}
	startProcess(t, cfg, "janitor")

	var (
		mu       sync.Mutex
		accepted = map[string]uint64{} // id → b, for [1, b]
		sent     atomic.Int64
		refused  atomic.Int64
	)
	chaos := []struct {
		at   int64
		what string
		do   func()
	}{
		{jobs / 5, "SIGKILL a worker", func() {
			_ = workers[0].cmd.Process.Kill()
			workers = append(workers, startProcess(t, cfg, "worker"))
		}},
		{jobs * 2 / 5, "restart Redis", func() { script(t, "redis.sh", "restart") }},
		{jobs * 3 / 5, "restart the Kafka broker", func() { script(t, "kafka.sh", "restart") }},
	}
	var wg sync.WaitGroup
	next := make(chan int, jobs)
	for i := range jobs {
		next <- i
	}
	close(next)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b := uint64(1000 + i%3000)
				resp, err := http.Post(url+"/sumPrime", "application/json", strings.NewReader(fmt.Sprintf(`{"a":1,"b":%d}`, b)))
				sent.Add(1)
				if err != nil {
					refused.Add(1)
					continue
				}
				r := read(t, resp)
				if r.status != http.StatusAccepted {
					refused.Add(1)
					continue
				}
				mu.Lock()
				accepted[r.record(t).RequestID] = b
				mu.Unlock()
			}
		}()
	}
	for _, c := range chaos {
		testenv.Eventually(t, 5*time.Minute, "submissions to reach "+fmt.Sprint(c.at), func() bool { return sent.Load() >= c.at })
		t.Logf("after %d submissions: %s", sent.Load(), c.what)
		c.do()
	}
	wg.Wait()

	finished, wrong := 0, 0
	deadline := time.Now().Add(5 * time.Minute)
	for id, b := range accepted {
		want, _ := primes.SumRange(context.Background(), 1, b, primes.Options{Threads: 1})
		for time.Now().Before(deadline) {
			r := get(t, url+"/sumPrime/"+id+"?wait=10s") // answers when the job changes
			if r.status == http.StatusOK {
				rec := r.record(t)
				if rec.Status == job.Finished {
					finished++
					if *rec.Payload != want.String() {
						wrong++
					}
					break
				}
				if rec.Status == job.Failed {
					t.Errorf("job %s FAILED: %s", id, rec.Error)
					break
				}
			}
			if r.status != http.StatusOK {
				time.Sleep(100 * time.Millisecond) // the store is coming back: try again shortly
			}
		}
	}
	done := 0
	for _, w := range workers {
		done += w.jobsDone()
	}
	lost := len(accepted) - finished
	summary := fmt.Sprintf("accepted=%d finished=%d lost=%d redelivered=%d refused=%d wrong=%d",
		len(accepted), finished, lost, max(0, done-finished), refused.Load(), wrong)
	fmt.Println(summary)
	if lost != 0 || wrong != 0 || len(accepted) == 0 {
		t.Fatalf("chaos: %s", summary)
	}
}

// script runs one of scripts/ and fails the test if it fails.
func script(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command("../scripts/"+name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/%s %v: %v", name, args, err)
	}
}
