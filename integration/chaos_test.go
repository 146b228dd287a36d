//go:build chaos

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/queue"
)

// TestChaos is `make chaos`: a few thousand jobs submitted while a worker
// process is killed with SIGKILL, the Redis server restarts, the Kafka
// broker restarts, the broker freezes, and poison lands on every partition.
// Every job that got a 202 must end FINISHED with the right sum, and no job
// answered 503 not-accepted may ever be computed. It needs the services
// started by scripts/ (they restart and freeze them).
func TestChaos(t *testing.T) {
	const jobs = 2000
	cfg := testenv.Config(t)
	cfg.Kafka.Partitions = 6
	cfg.HTTP.RequestTimeout = 2 * time.Second
	cfg.Janitor.Interval, cfg.Janitor.StaleAfter = 500*time.Millisecond, 3*time.Second
	// Every 250th job is S(10^11), scattered into some eight tasks.
	est := primes.PlanRange(1, scatteredB).Estimate
	cfg.Scatter.Threshold, cfg.Scatter.TaskCost = est/2, est/8
	url := startAPI(t, cfg)
	workers := []*process{startProcess(t, cfg, "worker"), startProcess(t, cfg, "worker")}
	startProcess(t, cfg, "janitor")

	l := &load{url: url}
	faults := []struct {
		at   int64
		what string
		do   func()
	}{
		{jobs / 5, "SIGKILL a worker holding several uncommitted messages of a partition", func() {
			// Some 10 ms each (ten times that under -race), in flight side by
			// side; collect checks each with the sieve, so not much more.
			held := l.burst(t, cfg, 40, 1_000_000_000)
			t.Logf("lag by partition at the kill: %v", held)
			_ = workers[0].cmd.Process.Kill()
			workers = append(workers, startProcess(t, cfg, "worker"))
		}},
		{jobs * 2 / 5, "restart Redis", func() { script(t, "redis.sh", "restart") }},
		{jobs * 3 / 5, "restart the Kafka broker", func() { script(t, "kafka.sh", "restart") }},
		{jobs * 7 / 10, "freeze the Kafka broker for 5 s", func() {
			script(t, "kafka.sh", "freeze")
			time.Sleep(5 * time.Second) // the length of the fault
			script(t, "kafka.sh", "thaw")
		}},
		{jobs * 4 / 5, "poison on every partition", func() { poison(t, cfg, l.someAccepted()) }},
	}
	done := l.run(t, jobs, 8)
	for _, f := range faults {
		testenv.Eventually(t, 5*time.Minute, "submissions to reach "+fmt.Sprint(f.at), func() bool { return l.sent.Load() >= f.at })
		t.Logf("after %d submissions: %s", l.sent.Load(), f.what)
		f.do()
	}
	<-done

	finished, wrong, scattered := l.collect(t)
	computed := 0
	for _, id := range l.withdrawn {
		if r := get(t, url+"/sumPrime/"+id); r.status != http.StatusNotFound {
			computed++
			t.Errorf("job %s was answered 503 not-accepted, but is %d %s", id, r.status, r.body)
		}
	}
	doneByWorkers := 0
	for _, w := range workers {
		doneByWorkers += w.jobsDone()
	}
	lost := len(l.accepted) - finished
	summary := fmt.Sprintf("accepted=%d finished=%d lost=%d redelivered=%d refused=%d withdrawn=%d computed_after_503=%d wrong=%d scattered=%d",
		len(l.accepted), finished, lost, max(0, doneByWorkers-finished), l.refused.Load(), len(l.withdrawn), computed, wrong, scattered)
	fmt.Println(summary)
	if lost != 0 || wrong != 0 || computed != 0 || len(l.accepted) == 0 || scattered == 0 {
		t.Fatalf("chaos: %s", summary)
	}
}

// load submits jobs [1, b] from several clients at once and remembers what
// became of each submit.
type load struct {
	url       string
	mu        sync.Mutex
	accepted  map[string]uint64 // id → b
	withdrawn []string          // ids answered 503 not-accepted
	sent      atomic.Int64
	refused   atomic.Int64
}

// run submits jobs from clients goroutines; the channel closes when all
// have been sent.
func (l *load) run(t *testing.T, jobs, clients int) <-chan struct{} {
	l.accepted = map[string]uint64{}
	next := make(chan int, jobs)
	for i := range jobs {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range next {
				b := uint64(1000 + i%3000)
				if i%250 == 125 {
					b = scatteredB
				}
				l.submit(t, b)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

func (l *load) submit(t *testing.T, b uint64) {
	resp, err := http.Post(l.url+"/sumPrime", "application/json", strings.NewReader(fmt.Sprintf(`{"a":1,"b":%d}`, b)))
	l.sent.Add(1)
	if err != nil {
		l.refused.Add(1)
		return
	}
	r := read(t, resp)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.status == http.StatusAccepted {
		l.accepted[r.record(t).RequestID] = b
		return
	}
	l.refused.Add(1)
	var p struct{ Type, RequestID string }
	if json.Unmarshal(r.body, &p) == nil && p.Type == "urn:sumprimes:problem:not-accepted" {
		l.withdrawn = append(l.withdrawn, p.RequestID)
	}
}

// burst submits n jobs [1, b+i] at once and returns, once some partition
// holds at least three of them uncommitted, the light lane's lag by
// partition: a member computing a partition's messages side by side holds
// several uncommitted, and a kill then must lose none of them.
func (l *load) burst(t *testing.T, cfg config.Config, n int, b uint64) map[int]int64 {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { l.submit(t, b+uint64(i)) })
	}
	wg.Wait()
	q := queue.New(queue.Config{Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.Topic, Group: cfg.Kafka.Group,
		HeavyTopic: cfg.Kafka.HeavyTopic, HeavyGroup: cfg.Kafka.HeavyGroup,
		TaskTopic: cfg.Kafka.TaskTopic, TaskGroup: cfg.Kafka.TaskGroup}, testenv.Logger(t))
	defer q.Close()
	var held map[int]int64
	testenv.Eventually(t, time.Minute, "a partition to hold three uncommitted jobs", func() bool {
		lag, err := q.Lag(t.Context())
		if err != nil {
			return false
		}
		held = lag.ByLane[job.Light]
		for _, n := range held {
			if n >= 3 {
				return true
			}
		}
		return false
	})
	return held
}

// someAccepted returns the id of an accepted job.
func (l *load) someAccepted() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.accepted {
		return id
	}
	return uuid.NewString()
}

// scatteredB is the chaos mix's scattered job, S(10^11) (OEIS A046731).
const scatteredB, scatteredSum = 1e11, "201467077743744681014"

// collect waits for every accepted job to be final and counts those
// FINISHED, those of them with a wrong sum, and those scattered.
func (l *load) collect(t *testing.T) (finished, wrong, scattered int) {
	deadline := time.Now().Add(5 * time.Minute)
	shown := 0
	for id, b := range l.accepted {
		want := scatteredSum
		if b != scatteredB {
			sum, _ := primes.SumRange(context.Background(), 1, b, primes.Options{Threads: 1})
			want = sum.String()
		}
		var last response
		defer func() {
			if last.status != 0 && (last.status != http.StatusOK || !last.record(t).Status.Final()) && shown < 5 {
				shown++
				t.Logf("not final: %s answered %d %s", id, last.status, last.body)
			}
		}()
		for time.Now().Before(deadline) {
			began := time.Now()
			r := get(t, l.url+"/sumPrime/"+id+"?wait=10s") // answers when the job changes
			last = r
			if took := time.Since(began); took > 5*time.Second && shown < 5 {
				shown++
				t.Logf("slow poll: %s answered %d after %s: %s", id, r.status, took, r.body)
			}
			if r.status != http.StatusOK {
				time.Sleep(100 * time.Millisecond) // the store is coming back: try again shortly
				continue
			}
			rec := r.record(t)
			if rec.Status == job.Failed {
				t.Errorf("job %s FAILED: %s", id, rec.Error)
				break
			}
			if rec.Status == job.Finished {
				finished++
				if *rec.Payload != want {
					wrong++
				}
				if rec.Tasks > 0 {
					scattered++
				}
				break
			}
		}
	}
	return finished, wrong, scattered
}

// poison writes, past the API, to every partition of the job topic: a job
// far past the limits, garbage keyed by an accepted job's id, and a message
// naming that job with another range.
func poison(t *testing.T, cfg config.Config, accepted string) {
	for p := range cfg.Kafka.Partitions {
		huge := uuid.NewString()
		writeRaw(t, cfg, p, huge, fmt.Sprintf(`{"requestId":%q,"a":1,"b":10000000000000000000}`, huge))
		writeRaw(t, cfg, p, accepted, "not a job")
		writeRaw(t, cfg, p, accepted, fmt.Sprintf(`{"requestId":%q,"a":1,"b":7}`, accepted))
	}
}
