package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/app"
	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// TestAdminAPI: an operator finds a failed job among the dead letters, sees
// why, and replays it once the cause is gone; sees the workers, their
// partitions and lag, and the counts of recent minutes; purges the topic.
// A client's key may do none of it.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Auth.Keys, cfg.Auth.Admins = "ann:ann-key,ops:ops-key", []string{"ops"}
	url := startAPI(t, cfg)
	id := failedJob(t, cfg, url, "ann-key", 5000)
	startWorker(t, cfg) // the cause is gone: limits as the API's

	call := func(method, path, key string) response { t.Helper(); return as(t, method, url+path, key, "") }
	for _, path := range []string{"/admin/dead-letters", "/admin/workers", "/admin/stats"} {
		if r := call(http.MethodGet, path, "ann-key"); r.status != http.StatusForbidden {
			t.Fatalf("GET %s with a client's key = %d %s, want 403", path, r.status, r.body)
		}
	}

	var letters struct {
		DeadLetters []struct {
			ID, Reason string
			Status     job.Status
			Job        *job.Job
		}
	}
	r := call(http.MethodGet, "/admin/dead-letters", "ops-key")
	if err := json.Unmarshal(r.body, &letters); r.status != http.StatusOK || err != nil || len(letters.DeadLetters) != 1 {
		t.Fatalf("GET /admin/dead-letters = %d %s, want the one dead letter", r.status, r.body)
	}
	d := letters.DeadLetters[0]
	if d.Job == nil || d.Job.RequestID != id || d.Status != job.Failed || !strings.Contains(d.Reason, "1000") {
		t.Fatalf("dead letter %+v, want job %s FAILED with the worker's reason (its limit, 1000)", d, id)
	}

	if r := call(http.MethodPost, "/admin/dead-letters/"+d.ID+"/replay", "ops-key"); r.status != http.StatusAccepted {
		t.Fatalf("replay = %d %s, want 202", r.status, r.body)
	}
	if r := call(http.MethodPost, "/admin/dead-letters/"+d.ID+"/replay", "ops-key"); r.status != http.StatusOK || !strings.Contains(string(r.body), `"replayed":false`) {
		t.Fatalf("second replay = %d %s, want 200 replayed false: one new attempt", r.status, r.body)
	}
	if rec := awaitAs(t, url, id, "ann-key"); rec.Status != job.Finished || *rec.Payload != "1548136" {
		t.Fatalf("replayed job = %+v, want FINISHED 1548136", rec)
	}

	var workers struct {
		Lanes []struct {
			Lane    string
			Members []struct {
				Owner      string
				Partitions []int
				Speed      *struct{ Sieve, Prefix float64 }
			}
			Lag map[string]int64
		}
	}
	r = call(http.MethodGet, "/admin/workers", "ops-key")
	if err := json.Unmarshal(r.body, &workers); r.status != http.StatusOK || err != nil || len(workers.Lanes) != 3 || workers.Lanes[2].Lane != "tasks" {
		t.Fatalf("GET /admin/workers = %d %s, want the light and heavy lanes and the tasks", r.status, r.body)
	}
	light := workers.Lanes[0]
	if light.Lane != "light" || len(light.Lag) != cfg.Kafka.Partitions || len(light.Members) != 1 ||
		len(light.Members[0].Partitions) != cfg.Kafka.Partitions || light.Members[0].Owner == "" {
		t.Fatalf("light lane = %+v, want one named member holding all %d partitions, and their lag", light, cfg.Kafka.Partitions)
	}
	// The worker timed its engines as it started and said so.
	testenv.Eventually(t, 30*time.Second, "the worker's speed", func() bool {
		r := call(http.MethodGet, "/admin/workers", "ops-key")
		if err := json.Unmarshal(r.body, &workers); err != nil || len(workers.Lanes) == 0 || len(workers.Lanes[0].Members) == 0 {
			return false
		}
		sp := workers.Lanes[0].Members[0].Speed
		return sp != nil && sp.Sieve > 0 && sp.Prefix > 0
	})

	var stats struct {
		InProgress int64
		Minutes    []struct{ Counts map[job.Status]int }
	}
	r = call(http.MethodGet, "/admin/stats", "ops-key")
	if err := json.Unmarshal(r.body, &stats); r.status != http.StatusOK || err != nil || len(stats.Minutes) != 15 {
		t.Fatalf("GET /admin/stats = %d %s", r.status, r.body)
	}
	total := map[job.Status]int{}
	for _, m := range stats.Minutes {
		for s, n := range m.Counts {
			total[s] += n
		}
	}
	if total[job.Failed] != 1 || total[job.Finished] != 1 {
		t.Fatalf("counts of the last minutes = %v, want the failure and the finish", total)
	}

	if r := call(http.MethodDelete, "/admin/dead-letters", "ops-key"); r.status != http.StatusOK || string(r.body) != "{\"purged\":1}\n" {
		t.Fatalf("purge = %d %s, want 1 purged", r.status, r.body)
	}
	if r := call(http.MethodGet, "/admin/dead-letters", "ops-key"); !strings.Contains(string(r.body), `"deadLetters":[]`) {
		t.Fatalf("after the purge: %s, want none", r.body)
	}
	if r := call(http.MethodPost, "/admin/dead-letters/"+d.ID+"/replay", "ops-key"); r.status != http.StatusNotFound {
		t.Fatalf("replay of a purged dead letter = %d %s, want 404", r.status, r.body)
	}
}

// failedJob submits [1, b] with key while only a worker whose limit is
// below b runs: it dead-letters the job, whose record becomes FAILED. That
// worker is stopped before failedJob returns.
func failedJob(t *testing.T, cfg config.Config, url, key string, b uint64) string {
	t.Helper()
	low := cfg
	low.Limits.MaxB = 1000
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, app.Options{Config: low, Log: testenv.Logger(t)}, app.Worker) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker stopped with %v", err)
		}
	}()
	r := as(t, http.MethodPost, url+"/sumPrime", key, fmt.Sprintf(`{"a":1,"b":%d}`, b))
	if r.status != http.StatusAccepted {
		t.Fatalf("submit = %d %s", r.status, r.body)
	}
	id := r.record(t).RequestID
	if rec := awaitAs(t, url, id, key); rec.Status != job.Failed {
		t.Fatalf("job = %+v, want FAILED by the worker with the lower limit", rec)
	}
	return id
}

// awaitAs long-polls job id with key until it is final.
func awaitAs(t *testing.T, url, id, key string) job.Record {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		r := as(t, http.MethodGet, url+"/sumPrime/"+id+"?wait=10s", key, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", id, r.status, r.body)
		}
		if rec := r.record(t); rec.Status.Final() {
			return rec
		}
	}
	t.Fatalf("job %s not final within a minute", id)
	return job.Record{}
}

// as sends method to url with key, and body as JSON when there is one.
func as(t *testing.T, method, url, key, body string) response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}
