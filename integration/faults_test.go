//go:build chaos

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/queue"
)

// TestFrozenBroker freezes the real Kafka broker (SIGSTOP: connections are
// accepted, nothing is answered) under a running API and worker. Readiness
// must say so, every submit must fail for the right reason, and none of the
// jobs answered 503 may run once the broker thaws. It needs the broker
// started by scripts/kafka.sh (make chaos).
func TestFrozenBroker(t *testing.T) {
	cfg := testenv.Config(t)
	cfg.HTTP.RequestTimeout = 2 * time.Second
	url := startAPI(t, cfg)
	worker := startProcess(t, cfg, "worker")
	await(t, url, submit(t, url, 1, 1000)) // everything warm

	script(t, "kafka.sh", "freeze")
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			script(t, "kafka.sh", "thaw")
		}
	}
	t.Cleanup(thaw)

	if r := get(t, url+"/readyz"); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "kafka") {
		t.Errorf("readyz with the broker frozen = %d %s, want 503 naming kafka", r.status, r.body)
	}
	refused := submitWhileFrozen(t, url, 12)
	thaw()

	lag := queue.New(queue.Config{Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.Topic, Group: cfg.Kafka.Group,
		HeavyTopic: cfg.Kafka.HeavyTopic, HeavyGroup: cfg.Kafka.HeavyGroup,
		TaskTopic: cfg.Kafka.TaskTopic, TaskGroup: cfg.Kafka.TaskGroup}, testenv.Logger(t))
	defer lag.Close()
	testenv.Eventually(t, 2*time.Minute, "the workers to consume everything", func() bool {
		l, err := lag.Lag(t.Context())
		return err == nil && l.Total() == 0
	})
	for _, id := range refused {
		if r := get(t, url+"/sumPrime/"+id); r.status != http.StatusNotFound {
			t.Errorf("job %s, answered 503 not-accepted, is %d %s: it must never run", id, r.status, r.body)
		}
		for _, line := range strings.Split(worker.out.String(), "\n") {
			if strings.Contains(line, `"msg":"job done"`) && strings.Contains(line, id) {
				t.Errorf("job %s, answered 503 not-accepted, was computed: %s", id, line)
			}
		}
	}
	t.Logf("frozen broker: %d submits answered 503 not-accepted, none computed", len(refused))
}

// submitWhileFrozen submits n jobs at once and returns the ids of those
// answered 503 not-accepted; any other answer fails the test.
func submitWhileFrozen(t *testing.T, url string, n int) []string {
	var (
		mu      sync.Mutex
		refused []string
		wg      sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			r := post(t, url, `{"a":1,"b":100}`)
			var p struct{ Type, Detail, RequestID string }
			_ = json.Unmarshal(r.body, &p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.status == http.StatusServiceUnavailable && p.Type == "urn:sumprimes:problem:not-accepted":
				refused = append(refused, p.RequestID)
			default:
				t.Errorf("submit with the broker frozen = %d %s, want 503 not-accepted (the broker is at fault, not the store)", r.status, r.body)
			}
		})
	}
	wg.Wait()
	if len(refused) == 0 {
		t.Fatal(fmt.Sprintf("no submit was refused out of %d", n))
	}
	return refused
}
