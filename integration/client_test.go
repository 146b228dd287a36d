package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
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

	long := submit(t, url, 1, 10_000_000_000_000) // S(10^13): seconds of work
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
		id := submit(t, url, 1, 10_000_000_000_000)
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
		id := submit(t, url, 1, 1_000_000_000_000)
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
		if final.Status != job.Finished || *final.Payload != "18435588552550705911377" {
			t.Fatalf("last record %+v, want FINISHED with S(10^12)", final)
		}
	})
}
