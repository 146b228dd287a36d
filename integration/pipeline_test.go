package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
)

func TestPipeline(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	url := startAPI(t, cfg)
	startWorker(t, cfg)

	t.Run("FinishesASubmittedJobWithTheExactSum", func(t *testing.T) {
		t.Parallel()
		r := post(t, url, `{"a": 1, "b": 1000000}`)
		if r.status != http.StatusAccepted {
			t.Fatalf("POST = %d %s, want 202", r.status, r.body)
		}
		accepted := r.record(t)
		if accepted.Status != "IN_PROGRESS" || accepted.Payload != nil {
			t.Fatalf("accepted = %s, want IN_PROGRESS with a null payload", r.body)
		}
		if loc := r.header.Get("Location"); loc != "/sumPrime/"+accepted.RequestID {
			t.Errorf("Location = %q", loc)
		}
		rec := await(t, url, accepted.RequestID)
		if rec.Status != "FINISHED" || rec.Payload == nil || *rec.Payload != "37550402023" {
			t.Fatalf("final record = %+v, want FINISHED 37550402023", rec)
		}
	})

	t.Run("KeepsTheResultForThreeMinutes", func(t *testing.T) {
		t.Parallel()
		id := submit(t, url, 10, 20)
		await(t, url, id)
		ttl := testenv.Redis(t).TTL(context.Background(), cfg.Redis.KeyPrefix+"job:"+id).Val()
		if ttl < 170*time.Second || ttl > 180*time.Second {
			t.Fatalf("TTL of the stored result = %s, want close to 180s", ttl)
		}
	})

	t.Run("SendsTheSumAsAJSONString", func(t *testing.T) {
		t.Parallel()
		id := submit(t, url, 1, 100_000_000)
		await(t, url, id)
		var raw map[string]any
		if err := json.Unmarshal(get(t, url+"/sumPrime/"+id).body, &raw); err != nil {
			t.Fatal(err)
		}
		if raw["payload"] != "279209790387276" {
			t.Fatalf("payload = %#v, want the string \"279209790387276\"", raw["payload"])
		}
	})

	t.Run("RejectsInvalidInputWith400", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{`{"a": 5, "b": 1}`, `{"a": "x", "b": 1}`, `{"a": 1.5, "b": 2}`, `{"a": 1, "b": 10000000000000000000}`, `{`} {
			r := post(t, url, body)
			if r.status != http.StatusBadRequest || r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("POST %s = %d %s, want a 400 problem", body, r.status, r.header.Get("Content-Type"))
			}
		}
	})

	t.Run("Answers404ForAnUnknownID", func(t *testing.T) {
		t.Parallel()
		if r := get(t, url+"/sumPrime/3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"); r.status != http.StatusNotFound {
			t.Fatalf("GET unknown id = %d, want 404", r.status)
		}
	})
}

// TestPipelineLanesAndWaiting: a POST may wait for its result, heavy jobs run in\ntheir own lane, and many jobs at once all finish.
func TestPipelineLanesAndWaiting(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	url := startAPI(t, cfg)
	startWorker(t, cfg)

	t.Run("AnswersThePOSTWithTheResultWhenAskedToWait", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodPost, url+"/sumPrime", strings.NewReader(`{"a": 1, "b": 1000000}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "wait=30")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := read(t, resp)
		if rec := r.record(t); r.status != http.StatusOK || rec.Status != "FINISHED" || *rec.Payload != "37550402023" {
			t.Fatalf("POST with Prefer: wait=30 = %d %s, want 200 FINISHED 37550402023", r.status, r.body)
		}
	})

	t.Run("RunsHeavyJobsInTheirOwnLane", func(t *testing.T) {
		t.Parallel()
		heavy := submit(t, url, 1, 10_000_000_000_000) // some 400 ms: past lanes.heavy_from
		light := submit(t, url, 1, 1000)
		if rec := await(t, url, light); rec.Status != "FINISHED" || rec.Lane != "" {
			t.Fatalf("light job = %+v, want FINISHED in the light lane", rec)
		}
		rec := await(t, url, heavy)
		if rec.Status != "FINISHED" || rec.Lane != job.Heavy || *rec.Payload != "1699246443377779418889494" {
			t.Fatalf("heavy job = %+v, want FINISHED in the heavy lane", rec)
		}
	})

	t.Run("FinishesManyConcurrentJobs", func(t *testing.T) {
		t.Parallel()
		ids := make([]string, 40)
		for i := range ids {
			ids[i] = submit(t, url, uint64(1+i), 10_000)
		}
		for i, id := range ids {
			if rec := await(t, url, id); rec.Status != "FINISHED" || rec.A != uint64(1+i) {
				t.Fatalf("job %d = %+v", i, rec)
			}
		}
	})
}

func TestWorkerProcessesShareThePartitions(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Kafka.Partitions = 6
	cfg.Worker.Concurrency = 1
	url := startAPI(t, cfg)

	first := startProcess(t, cfg, "worker")
	testenv.Eventually(t, 60*time.Second, "the first worker to own every partition", func() bool {
		held := assignments(t, cfg)
		return len(held) == 1 && held[0] == 6
	})
	second := startProcess(t, cfg, "worker")
	testenv.Eventually(t, 60*time.Second, "the second worker to take over some partitions", func() bool {
		held := assignments(t, cfg)
		return len(held) == 2 && held[0] > 0 && held[1] > 0 && held[0]+held[1] == 6
	})

	var ids []string
	for i := range 30 {
		ids = append(ids, submit(t, url, 1, uint64(1000+i)))
	}
	for _, id := range ids {
		if rec := await(t, url, id); rec.Status != "FINISHED" {
			t.Fatalf("job %s = %+v", id, rec)
		}
	}
	if first.jobsDone() == 0 || second.jobsDone() == 0 {
		t.Fatalf("jobs done: first %d, second %d; want both to have worked", first.jobsDone(), second.jobsDone())
	}

	// When one leaves, the other takes its partitions and nothing is lost.
	first.stop(t)
	testenv.Eventually(t, 60*time.Second, "the remaining worker to own every partition", func() bool {
		held := assignments(t, cfg)
		return len(held) == 1 && held[0] == 6
	})
	before := second.jobsDone()
	ids = ids[:0]
	for i := range 12 {
		ids = append(ids, submit(t, url, 1, uint64(2000+i)))
	}
	for _, id := range ids {
		if rec := await(t, url, id); rec.Status != "FINISHED" {
			t.Fatalf("job %s = %+v", id, rec)
		}
	}
	// A result is visible before its worker logs "job done": wait for the log.
	testenv.Eventually(t, 10*time.Second, "the remaining worker to log all 12 new jobs", func() bool {
		return second.jobsDone()-before == 12
	})
}

// TestDevMode runs `sumprimes dev` as `make run` does, on the embedded broker
// and store, and uses it the way the README's curl example does.
func TestDevMode(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t) // only for the environment; dev replaces brokers and Redis
	p := startProcess(t, cfg, "dev", "--http-addr", "127.0.0.1:0")
	var url string
	testenv.Eventually(t, 30*time.Second, "dev to print its URL", func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		for sc.Scan() {
			if m := regexp.MustCompile(`is up on (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				url = m[1]
				return true
			}
		}
		return false
	})
	waitReady(t, url)
	rec := await(t, url, submit(t, url, 1, 1_000_000))
	if rec.Payload == nil || *rec.Payload != "37550402023" {
		t.Fatalf("dev mode answered %+v, want 37550402023", rec)
	}
	p.stop(t)
}

// TestATightPollLoopMeets429 hammers GET from one client with the default
// style of limits, on the real Redis, and expects to be stopped.
func TestATightPollLoopMeets429(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.RateLimit.PollRate, cfg.RateLimit.PollBurst = 20, 40
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	id := submit(t, url, 1, 100)
	for i := range 200 {
		r := get(t, url+"/sumPrime/"+id)
		if r.status == http.StatusTooManyRequests {
			if r.header.Get("Retry-After") == "" || r.header.Get("RateLimit-Remaining") != "0" {
				t.Fatalf("429 without Retry-After and RateLimit headers: %v", r.header)
			}
			if i < 40 {
				t.Fatalf("limited after %d requests, within the burst of 40", i)
			}
			return
		}
	}
	t.Fatal("200 polls in a tight loop never met 429")
}

// TestMetrics reads /metrics after a job: the HTTP, job, latency and lag
// series are there (the roles run in this process share one registry, as
// in `sumprimes dev`). The worker counts a job finished once its result is
// stored, so a client can see the result a moment before the count: the
// test waits for the series rather than reading them once.
func TestMetrics(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	await(t, url, submit(t, url, 1, 1_000_000))
	var missing []string
	var body []byte
	defer func() {
		if len(missing) > 0 {
			t.Errorf("/metrics lacks %s\n%s", strings.Join(missing, ", "), body)
		}
	}()
	testenv.Eventually(t, 10*time.Second, "the job's series on /metrics", func() bool {
		body, missing = get(t, url+"/metrics").body, nil
		for _, series := range []string{
			`sumprimes_http_requests_total{code="202",method="POST",route="/sumPrime"}`,
			`sumprimes_http_request_duration_seconds_bucket{method="GET",route="/sumPrime/:id"`,
			"sumprimes_jobs_submitted_total", `sumprimes_jobs_finished_total{engine="prefix"}`,
			`sumprimes_compute_seconds_bucket{engine="prefix"`, "sumprimes_job_latency_seconds_bucket",
			`sumprimes_consumer_lag{lane="light",partition="0"}`, `sumprimes_consumer_lag{lane="heavy",partition="0"}`,
			`sumprimes_backlog_compute_seconds{lane="heavy"}`,
		} {
			if !strings.Contains(string(body), series) {
				missing = append(missing, series)
			}
		}
		return len(missing) == 0
	})
}
