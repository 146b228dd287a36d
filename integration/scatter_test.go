package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
)

// TestScatteredJobSurvivesAKilledWorker: a job past scatter.threshold is
// cut into tasks that two worker processes share; one is SIGKILLed with
// tasks in hand, and the sum is still exact, every task counted once,
// while the client saw one job whose tasks went by.
func TestScatteredJobSurvivesAKilledWorker(t *testing.T) {
	t.Parallel()
	const b, want = 1e13, "1699246443377779418889494" // S(10^13), OEIS A046731
	cfg := testenv.Config(t)
	cfg.Kafka.Partitions = 4
	cfg.Worker.Concurrency = 1
	plan := primes.PlanRange(1, b)
	cfg.Scatter.Threshold, cfg.Scatter.TaskCost = plan.Estimate/2, plan.Estimate/40
	url := startAPI(t, cfg)
	workers := []*process{startProcess(t, cfg, "worker"), startProcess(t, cfg, "worker")}
	tasks := cfg
	tasks.Kafka.Group = cfg.Kafka.TaskGroup
	testenv.Eventually(t, 60*time.Second, "both workers to hold task partitions", func() bool {
		held := assignments(t, tasks)
		return len(held) == 2 && held[0] > 0 && held[1] > 0
	})

	id := submit(t, url, 1, b)
	var seen job.Record
	testenv.Eventually(t, 2*time.Minute, "some tasks to be done", func() bool {
		seen = get(t, url+"/sumPrime/"+id).record(t)
		return seen.TasksDone >= 4 || seen.Status.Final()
	})
	if seen.Status.Final() || seen.Tasks < 30 || seen.Progress == nil || *seen.Progress <= 0 {
		t.Fatalf("the job before the kill: %+v, want IN_PROGRESS with about 40 tasks and its progress", seen)
	}
	t.Logf("killing a worker with %d of %d tasks done", seen.TasksDone, seen.Tasks)
	_ = workers[0].cmd.Process.Kill()
	rec := await(t, url, id)
	if rec.Status != job.Finished || *rec.Payload != want {
		t.Fatalf("scattered S(10^13) after a kill: %+v, want FINISHED %s", rec, want)
	}
	if rec.Tasks != seen.Tasks || rec.TasksDone != rec.Tasks {
		t.Fatalf("record says %d of %d tasks done, want all %d", rec.TasksDone, rec.Tasks, seen.Tasks)
	}
	gathered := strings.Count(workers[1].out.String(), `"msg":"scattered job gathered"`)
	if gathered != 1 {
		t.Fatalf("the surviving worker gathered %d times, want once:\n%s", gathered, workers[1].out.String())
	}
	// Cancelling a scattered job stops its tasks: none is done after it.
	id = submit(t, url, 1, b)
	testenv.Eventually(t, 2*time.Minute, "the second job's first task", func() bool {
		return get(t, url+"/sumPrime/"+id).record(t).TasksDone >= 1
	})
	if r := del(t, url+"/sumPrime/"+id); r.status != http.StatusOK {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	if rec := await(t, url, id); rec.Status != job.Cancelled {
		t.Fatalf("cancelled scattered job: %+v", rec)
	}
}
