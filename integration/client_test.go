package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/client"
	"github.com/sumprimes/sumprimes/pkg/job"
)

func del(t *testing.T, url string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

// TestCancel runs one worker member on one partition, so a job queued
// behind a cancelled one can only finish once the worker has let go.
func TestCancel(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Kafka.Partitions, cfg.Worker.Concurrency = 1, 1
	url := startAPI(t, cfg)
	startWorker(t, cfg)

	long := submit(t, url, 1, longB)
	testenv.Eventually(t, 60*time.Second, "the long job to start", func() bool {
		return get(t, url+"/sumPrime/"+long).record(t).Progress != nil
	})
	r := del(t, url+"/sumPrime/"+long)
	if r.status != http.StatusOK || r.record(t).Status != job.Cancelled {
		t.Fatalf("DELETE = %d %s, want 200 CANCELLED", r.status, r.body)
	}
	short := submit(t, url, 1, 1000)
	testenv.Eventually(t, 20*time.Second, "the job behind the cancelled one to finish", func() bool {
		return get(t, url+"/sumPrime/"+short).record(t).Status == job.Finished
	})
	if rec := get(t, url+"/sumPrime/"+long).record(t); rec.Status != job.Cancelled {
		t.Fatalf("cancelled job is %s afterwards, want CANCELLED", rec.Status)
	}
	if r := del(t, url+"/sumPrime/"+short); r.status != http.StatusConflict {
		t.Fatalf("DELETE of a finished job = %d, want 409", r.status)
	}
	if r := del(t, url+"/sumPrime/3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"); r.status != http.StatusNotFound {
		t.Fatalf("DELETE of an unknown job = %d, want 404", r.status)
	}
}

func TestLongPollAndEvents(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	url := startAPI(t, cfg)
	startWorker(t, cfg)

	t.Run("LongPollAnswersWithTheFinalRecord", func(t *testing.T) {
		t.Parallel()
		id := submit(t, url, 1, 100_000_000_000)
		r := get(t, url+"/sumPrime/"+id+"?wait=60s")
		if rec := r.record(t); r.status != http.StatusOK || rec.Status != job.Finished || *rec.Payload != "201467077743744681014" {
			t.Fatalf("long-poll = %d %s, want the FINISHED record in one request", r.status, r.body)
		}
	})

	t.Run("LongPollReturnsWhenTheWaitEnds", func(t *testing.T) {
		t.Parallel()
		id := submit(t, url, 1, longB)
		defer del(t, url+"/sumPrime/"+id)
		r := get(t, url+"/sumPrime/"+id+"?wait=1s")
		if r.status != http.StatusOK || r.record(t).Status != job.InProgress || r.header.Get("Retry-After") == "" {
			t.Fatalf("long-poll of a long job = %d %s, want IN_PROGRESS with Retry-After when the wait ends", r.status, r.body)
		}
		if r := get(t, url+"/sumPrime/"+id+"?wait=soon"); r.status != http.StatusBadRequest {
			t.Fatalf("wait=soon = %d, want 400", r.status)
		}
	})

	t.Run("EventsStreamProgressThenTheFinalRecord", func(t *testing.T) {
		t.Parallel()
		id := submit(t, url, 1, 100_000_000_000_000) // S(10^14): a second or so
		resp, err := http.Get(url + "/sumPrime/" + id + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type = %q", ct)
		}
		var events []string
		var final job.Record
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				events = append(events, name)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				if err := json.Unmarshal([]byte(data), &final); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(events) < 2 || events[0] != "progress" || events[len(events)-1] != "final" {
			t.Fatalf("events %v, want progress first and final last", events)
		}
		if final.Status != job.Finished || *final.Payload != "157589260710736940541561021" {
			t.Fatalf("last record %+v, want FINISHED with S(10^14)", final)
		}
	})
}

func TestGoClient(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	c := client.New(url)
	ctx := context.Background()

	t.Run("SumBlocksUntilTheExactSumArrives", func(t *testing.T) {
		t.Parallel()
		sum, err := c.Sum(ctx, 1, 1_000_000)
		if err != nil || sum != "37550402023" {
			t.Fatalf("Sum = %q, %v", sum, err)
		}
	})

	t.Run("ReturnsTypedProblems", func(t *testing.T) {
		t.Parallel()
		_, err := c.Submit(ctx, 5, 1)
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Field != "a" || e.Detail == "" {
			t.Fatalf("Submit(5, 1) error = %#v, want a 400 problem naming a", err)
		}
		if _, err := c.Get(ctx, "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"); client.StatusOf(err) != http.StatusNotFound {
			t.Fatalf("Get(unknown) error = %v, want 404", err)
		}
	})

	t.Run("RetriesWithAnIdempotencyKeyReturnTheSameJob", func(t *testing.T) {
		t.Parallel()
		key := "test-" + testenv.Unique()
		first, err := c.Submit(ctx, 1, 5000, client.IdempotencyKey(key))
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.Submit(ctx, 1, 5000, client.IdempotencyKey(key))
		if err != nil || again.RequestID != first.RequestID {
			t.Fatalf("the same key gave %v, %v; want %s", again.RequestID, err, first.RequestID)
		}
	})

	t.Run("WaitReportsProgressAndTheFinalRecord", func(t *testing.T) {
		t.Parallel()
		rec, err := c.Submit(ctx, 1, 1_000_000_000_000)
		if err != nil {
			t.Fatal(err)
		}
		var seen []job.Status
		final, err := c.Wait(ctx, rec.RequestID, func(r client.Record) { seen = append(seen, r.Status) })
		if err != nil || final.Status != job.Finished || *final.Payload != "18435588552550705911377" {
			t.Fatalf("Wait = %+v, %v", final, err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != job.Finished {
			t.Fatalf("progress saw %v, want it to end with FINISHED", seen)
		}
	})
}

func TestCLIClient(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(binary, append(args, "--api-url", url)...)
		out, err := cmd.Output()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
		return string(out), code
	}

	if out, code := run("submit", "1", "1000000", "--wait"); code != 0 || out != "37550402023\n" {
		t.Fatalf("submit --wait = %q, exit %d", out, code)
	}
	id, code := run("submit", "1", "100")
	id = strings.TrimSpace(id)
	if code != 0 || len(id) != 36 {
		t.Fatalf("submit = %q, exit %d; want a request id", id, code)
	}
	testenv.Eventually(t, 30*time.Second, "get to show FINISHED", func() bool {
		out, code := run("get", id)
		return code == 0 && strings.Contains(out, `"status": "FINISHED"`) && strings.Contains(out, `"payload": "1060"`)
	})
	if _, code := run("cancel", id); code != 1 {
		t.Fatalf("cancel of a finished job: exit %d, want 1", code)
	}
	if _, code := run("submit", "5", "1"); code != 2 {
		t.Fatalf("submit 5 1: exit %d, want 2", code)
	}
	if _, code := run("submit", "1", "10000000000000000000"); code != 2 {
		t.Fatalf("submit over the limit: exit %d, want 2 (the server's 400)", code)
	}
	if out, code := run("get", id, "--output", "text"); code != 0 || out != id+" FINISHED 1060\n" {
		t.Fatalf("get --output text = %q, exit %d", out, code)
	}
	if _, code := run("get", id, "--output", "yaml"); code != 2 {
		t.Fatalf("get --output yaml: exit %d, want 2", code)
	}
	// The same idempotency key and range give the same job, as JSON.
	var first, again job.Record
	for _, rec := range []*job.Record{&first, &again} {
		out, code := run("submit", "1", "2000", "--idempotency-key", "cli-"+id, "--output", "json", "--wait")
		if err := json.Unmarshal([]byte(out), rec); code != 0 || err != nil {
			t.Fatalf("submit --output json = %q, exit %d: %v", out, code, err)
		}
	}
	if first.RequestID != again.RequestID || first.Status != job.Finished || *again.Payload != "277050" {
		t.Fatalf("submitted twice with one key: %+v then %+v, want one FINISHED job", first, again)
	}
	// A callback URL goes with the job (and is checked by the API: plain
	// http to loopback is refused unless allowed).
	if out, code := run("submit", "1", "100", "--callback-url", "http://127.0.0.1:1/hook"); code != 2 {
		t.Fatalf("submit --callback-url to a refused address = %q, exit %d, want 2 (the server's 400)", out, code)
	}
	// bench --drain submits, follows the drain, then reads every record.
	out, code := run("bench", "--drain", "--jobs", "30", "--concurrency", "3", "--a", "1", "--b", "1000")
	if code != 0 || !strings.Contains(out, "submitted jobs=30 errors=0 ") || !strings.Contains(out, "result jobs=30 errors=0 drain_jobs_per_s=") {
		t.Fatalf("bench --drain = %q, exit %d; want 30 submitted and 30 finished", out, code)
	}
}

// TestCallbacks runs a receiver on loopback (allowed explicitly, as loopback
// is refused by default) that checks every signature.
func TestCallbacks(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Callbacks.Secret = "test-secret"
	cfg.Callbacks.AllowedNetworks = []string{"127.0.0.0/8"}
	received := make(chan job.Record, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !callback.Verify([]byte("test-secret"), r.Header.Get(callback.TimestampHeader), body, r.Header.Get(callback.SignatureHeader)) {
			t.Errorf("callback with a bad signature: %s", body)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var rec job.Record
		if err := json.Unmarshal(body, &rec); err != nil {
			t.Errorf("callback body %s: %v", body, err)
		}
		received <- rec
	}))
	defer receiver.Close()
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	next := func() job.Record {
		select {
		case rec := <-received:
			return rec
		case <-time.After(60 * time.Second):
			t.Fatal("no callback within a minute")
			return job.Record{}
		}
	}

	r := post(t, url, `{"a": 1, "b": 1000000, "callbackUrl": "`+receiver.URL+`/hook"}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("POST with a callback = %d %s", r.status, r.body)
	}
	if rec := next(); rec.RequestID != r.record(t).RequestID || rec.Status != job.Finished || *rec.Payload != "37550402023" {
		t.Fatalf("callback = %+v, want the FINISHED record", rec)
	}

	long := post(t, url, `{"a": 1, "b": 10000000000000000, "callbackUrl": "`+receiver.URL+`/hook"}`).record(t).RequestID
	del(t, url+"/sumPrime/"+long)
	if rec := next(); rec.RequestID != long || rec.Status != job.Cancelled {
		t.Fatalf("callback = %+v, want the CANCELLED record", rec)
	}

	for _, hook := range []string{"ftp://example.com/hook", "http://10.0.0.1/hook", "http://169.254.169.254/"} {
		if r := post(t, url, `{"a": 1, "b": 10, "callbackUrl": "`+hook+`"}`); r.status != http.StatusBadRequest {
			t.Errorf("callbackUrl %s = %d, want 400", hook, r.status)
		}
	}
}

// TestAPIKeys runs the API with keys, through the Go client and the CLI:
// each client reaches only its own jobs, and a missing key is a 401.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Auth.Keys, cfg.Auth.Admins = "alice:alice-key,bob:bob-key,carol:carol-key", []string{"carol"}
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	ctx := context.Background()
	alice, bob, nobody := client.New(url, client.WithAPIKey("alice-key")), client.New(url, client.WithAPIKey("bob-key")), client.New(url)

	rec, err := alice.Submit(ctx, 1, 1_000_000)
	if err != nil || rec.Owner != "alice" {
		t.Fatalf("alice's Submit = %+v, %v; want a job she owns", rec, err)
	}
	if final, err := alice.Wait(ctx, rec.RequestID, nil); err != nil || *final.Payload != "37550402023" {
		t.Fatalf("alice's Wait = %+v, %v", final, err)
	}
	if _, err := bob.Get(ctx, rec.RequestID); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("bob's Get of alice's job = %v, want 404", err)
	}
	if _, err := nobody.Submit(ctx, 1, 10); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("Submit without a key = %v, want 401", err)
	}
	cli := exec.Command(binary, "submit", "1", "1000000", "--wait", "--api-url", url)
	cli.Env = append(os.Environ(), "SUMPRIMES_API_KEY=bob-key")
	if out, err := cli.Output(); err != nil || string(out) != "37550402023\n" {
		t.Fatalf("CLI with SUMPRIMES_API_KEY = %q, %v", out, err)
	}
	listsOwnJobsInPages(t, url, alice, bob, rec.RequestID)
}

// listsOwnJobsInPages: GET /sumPrime lists a client's own jobs only, newest
// first, page after page; the CLI's list too.
func listsOwnJobsInPages(t *testing.T, url string, alice, bob *client.Client, first string) {
	ctx := context.Background()
	want := []string{first}
	for b := range uint64(3) {
		rec, err := alice.Submit(ctx, 1, 100+b)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{rec.RequestID}, want...)
		time.Sleep(2 * time.Millisecond) // distinct creation times, so the order is known
	}
	var got []string
	opt := client.ListOptions{Limit: 3}
	for range 5 {
		page, err := alice.List(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range page.Jobs {
			got = append(got, rec.RequestID)
		}
		if opt.PageToken = page.NextPageToken; opt.PageToken == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("alice's pages list %v, want her four jobs newest first %v", got, want)
	}
	page, err := bob.List(ctx, client.ListOptions{Status: "FINISHED"})
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].Owner != "bob" {
		t.Fatalf("bob's FINISHED jobs: %+v, %v; want his one", page, err)
	}
	carol := client.New(url, client.WithAPIKey("carol-key")) // an admin: every client's jobs
	if all, err := carol.List(ctx, client.ListOptions{}); err != nil || len(all.Jobs) != 5 || all.Jobs[0].RequestID != want[0] {
		t.Fatalf("carol, an admin, lists %+v, %v; want alice's four and bob's one, newest first", all, err)
	}
	if rec, err := carol.Get(ctx, first); err != nil || rec.Owner != "alice" {
		t.Fatalf("carol's Get of alice's job = %+v, %v; want it", rec, err)
	}
	if _, err := bob.List(ctx, client.ListOptions{Status: "DONE"}); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("List with status DONE = %v, want 400", err)
	}
	cli := exec.Command(binary, "list", "--all", "--api-url", url)
	cli.Env = append(os.Environ(), "SUMPRIMES_API_KEY=bob-key")
	if out, err := cli.Output(); err != nil || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "FINISHED 37550402023  [1, 1000000]") {
		t.Fatalf("CLI list as bob = %q, %v", out, err)
	}
}

// TestShutdownWithOpenStreams: SIGTERM reaches an API process while a
// client follows a job's events and another long-polls it; both end at once
// (the stream with a reconnect event) and the process exits 0 instead of
// running out http.shutdown_timeout.
func TestShutdownWithOpenStreams(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	p := startProcess(t, cfg, "api", "--http-addr", "127.0.0.1:0")
	var url string
	testenv.Eventually(t, 30*time.Second, "the API to log its address", func() bool {
		m := regexp.MustCompile(`"msg":"api listening",.*?"addr":"([^"]+)"`).FindStringSubmatch(p.out.String())
		if m != nil {
			url = "http://" + m[1]
		}
		return m != nil
	})
	waitReady(t, url)
	id := submit(t, url, 1, 1000) // no worker: it stays in progress
	stream, err := (&http.Client{Timeout: time.Minute}).Get(url + "/sumPrime/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	events := bufio.NewReader(stream.Body)
	if line, _ := events.ReadString('\n'); line != "event: progress\n" {
		t.Fatalf("first line %q, want the progress event", line)
	}
	poll := make(chan int, 1)
	go func() {
		resp, err := http.Get(url + "/sumPrime/" + id + "?wait=60s")
		if err != nil {
			poll <- 0 // it came after the listener closed
			return
		}
		resp.Body.Close()
		poll <- resp.StatusCode
	}()
	p.stop(t) // fails unless the process exits 0
	rest, _ := io.ReadAll(events)
	if !strings.HasSuffix(string(rest), "event: reconnect\n\n") {
		t.Errorf("the stream ended with %q, want a reconnect event", rest)
	}
	if status := <-poll; status != http.StatusOK && status != 0 {
		t.Errorf("the long-poll answered %d, want 200 with the record as it stands", status)
	}
}
