//go:build compose

// Package compose checks the real docker-compose.yml running in Docker, from
// the host, through the ports it publishes on 127.0.0.1. scripts/compose-test.sh
// (make compose-test) builds the images and runs it; SUMPRIMES_COMPOSE is the
// compose command line, project and files included.
package compose

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
)

var (
	apiPort   = env("SUMPRIMES_PORT", "18080")
	kafkaPort = env("SUMPRIMES_TEST_KAFKA_PORT", "19092")
	api       = "http://127.0.0.1:" + apiPort
)

// The heavy jobs take about a second each by the planner's estimate (the
// prefix engine's S(b) − S(a−1)): long enough to be killed in the middle of.
const heavyA, heavyB = 29_900_000_000_000, 30_000_000_000_000

func TestCompose(t *testing.T) {
	if os.Getenv("SUMPRIMES_COMPOSE") == "" {
		t.Fatal("SUMPRIMES_COMPOSE is not set: run make compose-test")
	}
	os.Setenv("SUMPRIMES_PORT", apiPort)
	os.Setenv("SUMPRIMES_TEST_KAFKA_PORT", kafkaPort)
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"up --wait: every service healthy, a job of each lane exact", testUp},
		{"non-root, read-only root file system, no shell", testHardened},
		{"--scale worker=3: three members share the partitions, jobs spread", testScale},
		{"kill, pause past the lease, restart redis and kafka: lost=0", testFaults},
		{"down and up with the volumes: records and the topic survive", testVolumes},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

func testUp(t *testing.T) {
	compose(t, "up", "--detach", "--wait", "--no-build")
	for _, r := range [][2]uint64{{1, 1_000_000}, {heavyA, heavyB}} {
		id := submit(t, r[0], r[1])
		rec := await(t, id, 2*time.Minute)
		if want := sum(t, r[0], r[1]); rec.Status != job.Finished || *rec.Payload != want {
			t.Fatalf("[%d, %d]: %s %v, want FINISHED %s", r[0], r[1], rec.Status, rec.Payload, want)
		}
		t.Logf("[%d, %d] = %s (%s engine) through the containers", r[0], r[1], *rec.Payload, rec.Plan.Engine)
	}
}

// testHardened: the service's containers run as the image's non-root user
// on a read-only root file system, as the Kubernetes manifests ask, and the
// runtime image has no shell to exec into.
func testHardened(t *testing.T) {
	for _, service := range []string{"api", "worker", "janitor"} {
		for _, id := range containers(t, service) {
			inspect := docker(t, "inspect", "-f", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}", id)
			if strings.TrimSpace(inspect) != "nonroot:nonroot true" {
				t.Errorf("%s: user and read-only root %q, want nonroot:nonroot true", service, inspect)
			}
			for _, line := range strings.Split(strings.TrimSpace(docker(t, "top", id, "-eo", "pid,uid")), "\n")[1:] {
				if f := strings.Fields(line); len(f) != 2 || f[1] != "65532" {
					t.Errorf("%s: process %q, want uid 65532", service, line)
				}
			}
			if out, err := exec.Command("docker", "exec", id, "/bin/sh", "-c", "true").CombinedOutput(); err == nil {
				t.Errorf("%s: a shell ran in the container: %s", service, out)
			}
		}
	}
	t.Log("api, worker, janitor: uid 65532, read-only root file system, no /bin/sh")
}

// testScale: with three workers, Kafka reports three members of the light
// lane's group sharing its twelve partitions, and jobs land on all three.
func testScale(t *testing.T) {
	compose(t, "up", "--detach", "--wait", "--no-build", "--scale", "worker=3")
	var shares []int
	eventually(t, time.Minute, "three members with every partition", func() bool {
		shares = members(t, "sumprimes-workers", "sumprimes.jobs")
		total := 0
		for _, n := range shares {
			total += n
		}
		return len(shares) == 3 && total == 12 && !slices.Contains(shares, 0)
	})
	t.Logf("Kafka: group sumprimes-workers has 3 members, partitions %v", shares)

	since := time.Now().Format(time.RFC3339Nano)
	ids := make([]string, 150)
	for i := range ids {
		ids[i] = submit(t, 1, uint64(1000+i))
	}
	for _, id := range ids {
		await(t, id, time.Minute)
	}
	var done []int
	for _, id := range containers(t, "worker") {
		done = append(done, strings.Count(dockerOut(t, "logs", "--since", since, id), `"msg":"job done"`))
	}
	if len(done) != 3 || slices.Contains(done, 0) {
		t.Fatalf("jobs done per worker %v, want all three working", done)
	}
	t.Logf("150 jobs spread over the three workers: %v", done)
}

// testVolumes: compose down (keeping the volumes) and up again: a finished
// record is read back unchanged from Redis's AOF, and the topic is there
// with its messages and the group's committed offsets (nothing to redo).
func testVolumes(t *testing.T) {
	id := submit(t, 1, 2_000_000)
	before := await(t, id, time.Minute)
	offsets := endOffsets(t, "sumprimes.jobs")
	compose(t, "down")
	compose(t, "up", "--detach", "--wait", "--no-build")
	var after job.Record
	eventually(t, time.Minute, "the record after up", func() bool {
		status, body := get(api + "/sumPrime/" + id)
		return status == http.StatusOK && json.Unmarshal(body, &after) == nil
	})
	if after.Status != job.Finished || *after.Payload != *before.Payload || !after.FinishedAt.Equal(*before.FinishedAt) {
		t.Errorf("after down and up: %s %v at %v, want %s %s at %v", after.Status, after.Payload, after.FinishedAt,
			before.Status, *before.Payload, before.FinishedAt)
	}
	if now := endOffsets(t, "sumprimes.jobs"); now < offsets || offsets == 0 {
		t.Errorf("topic sumprimes.jobs holds %d messages after down and up, %d before", now, offsets)
	}
	if lag := groupLag(t, "sumprimes-workers", "sumprimes.jobs"); lag != 0 {
		t.Errorf("group sumprimes-workers lags %d after down and up: its committed offsets were lost", lag)
	}
	t.Logf("after down and up: job %s still FINISHED %s; topic holds %d messages, group lag 0", id, *after.Payload, offsets)
}

// load submits jobs from a few clients until stopped, and keeps what was
// accepted: mostly light jobs, and heavy ones to be caught in the middle.
type load struct {
	mu       sync.Mutex
	accepted map[string][2]uint64
	refused  map[int]int // by status
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, clients int) *load {
	l := &load{accepted: map[string][2]uint64{}, refused: map[int]int{}, stop: make(chan struct{})}
	for c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-time.After(120 * time.Millisecond): // within each client's rate limit (10/s)
				}
				r := [2]uint64{1, uint64(1000 + rand.IntN(1_000_000))}
				if c == 0 && i%10 == 0 {
					r = [2]uint64{heavyA, heavyB}
				}
				l.submit(fmt.Sprint("compose-test-", c), r)
			}
		}()
	}
	return l
}

// submit posts one job as client; what is not accepted (the API answers
// 503 while Redis or Kafka restarts) is counted by status, 0 for no answer.
func (l *load) submit(client string, r [2]uint64) {
	req, _ := http.NewRequest(http.MethodPost, api+"/sumPrime", strings.NewReader(fmt.Sprintf(`{"a":%d,"b":%d}`, r[0], r[1])))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", client) // the rate limiter's client
	resp, err := http.DefaultClient.Do(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.refused[0]++
		return
	}
	defer resp.Body.Close()
	var rec job.Record
	if resp.StatusCode != http.StatusAccepted || json.NewDecoder(resp.Body).Decode(&rec) != nil {
		l.refused[resp.StatusCode]++
		return
	}
	l.accepted[rec.RequestID] = r
}

func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

// heavyRunning reports whether a worker is computing one of the heavy jobs
// (its record shows progress).
func (l *load) heavyRunning() bool {
	l.mu.Lock()
	var heavy []string
	for id, r := range l.accepted {
		if r[0] == heavyA {
			heavy = append(heavy, id)
		}
	}
	l.mu.Unlock()
	for _, id := range heavy {
		var rec job.Record
		if status, body := get(api + "/sumPrime/" + id); status == http.StatusOK && json.Unmarshal(body, &rec) == nil &&
			rec.Status == job.InProgress && rec.Progress != nil && *rec.Progress > 0 {
			return true
		}
	}
	return false
}

func (l *load) halt() map[string][2]uint64 {
	close(l.stop)
	l.wg.Wait()
	return l.accepted
}

func testFaults(t *testing.T) {
	l := startLoad(t, 4)
	eventually(t, time.Minute, "a heavy job under way", l.heavyRunning)
	workers := busiest(t)
	docker(t, "kill", workers[0])
	t.Logf("killed worker %s (SIGKILL) while it computed a heavy job", workers[0][:12])
	docker(t, "pause", workers[1])
	time.Sleep(20 * time.Second) // past worker.lease_ttl (15 s)
	docker(t, "unpause", workers[1])
	t.Logf("paused worker %s for 20 s, past its 15 s lease", workers[1][:12])
	compose(t, "restart", "redis")
	t.Log("restarted redis")
	compose(t, "restart", "kafka")
	t.Log("restarted kafka")
	compose(t, "up", "--detach", "--no-build", "--scale", "worker=3") // the killed worker is back
	var states string
	eventually(t, 2*time.Minute, "every container healthy again", func() bool {
		var ok bool
		ok, states = allHealthy(t)
		return ok
	}, func() string { return states })
	t.Log("every container healthy again")
	n := l.count()
	eventually(t, time.Minute, "jobs accepted after the faults", func() bool { return l.count() >= n+50 })
	accepted := l.halt()
	finished, wrong, lost := collect(t, accepted)
	changed := rewritten(t, finished)
	fmt.Printf("lost=%d accepted=%d finished=%d wrong=%d rewritten=%d recomputed=%d refused=%v\n",
		lost, len(accepted), len(finished), wrong, changed, recomputed(t, accepted), l.refused)
	if lost != 0 || wrong != 0 || changed != 0 || len(accepted) == 0 {
		t.Fatalf("lost=%d wrong=%d rewritten=%d of %d accepted", lost, wrong, changed, len(accepted))
	}
}

// collect waits for every accepted job's final record and checks its sum;
// finished holds when each was finished.
func collect(t *testing.T, accepted map[string][2]uint64) (finished map[string]time.Time, wrong, lost int) {
	finished = map[string]time.Time{}
	want := map[[2]uint64]string{}
	for id, r := range accepted {
		if _, ok := want[r]; !ok {
			want[r] = sum(t, r[0], r[1])
		}
		rec := await(t, id, 3*time.Minute)
		switch {
		case rec.Status != job.Finished:
			lost++
			t.Errorf("job %s [%d, %d]: %s %s", id, r[0], r[1], rec.Status, rec.Error)
		case *rec.Payload != want[r]:
			wrong++
			t.Errorf("job %s [%d, %d] = %s, want %s", id, r[0], r[1], *rec.Payload, want[r])
		default:
			finished[id] = *rec.FinishedAt
		}
	}
	return finished, wrong, lost
}

// rewritten reads every finished record again, once the workers have
// caught up, and counts those whose finish changed: a job finishes once
// (the first final record wins), however often it was computed.
func rewritten(t *testing.T, finished map[string]time.Time) int {
	eventually(t, time.Minute, "the workers caught up", func() bool {
		return groupLag(t, "sumprimes-workers", "sumprimes.jobs")+groupLag(t, "sumprimes-workers-heavy", "sumprimes.jobs.heavy") == 0
	})
	n := 0
	for id, at := range finished {
		if rec := await(t, id, time.Minute); !rec.FinishedAt.Equal(at) {
			n++
			t.Errorf("job %s finished at %v, then again at %v", id, at, rec.FinishedAt)
		}
	}
	return n
}

// recomputed counts the accepted jobs that workers reported done more than
// once (at-least-once delivery redoing a job whose worker died or stalled
// before committing; the record keeps the first result all the same).
func recomputed(t *testing.T, accepted map[string][2]uint64) int {
	done := map[string]int{}
	for _, id := range containers(t, "worker") {
		for _, line := range strings.Split(dockerOut(t, "logs", id), "\n") {
			var entry struct{ Msg, RequestID string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "job done" {
				done[entry.RequestID]++
			}
		}
	}
	n := 0
	for id := range accepted {
		if done[id] > 1 {
			n++
		}
	}
	return n
}

func submit(t *testing.T, a, b uint64) string {
	t.Helper()
	var id string
	eventually(t, time.Minute, "a 202", func() bool {
		resp, err := http.Post(api+"/sumPrime", "application/json", strings.NewReader(fmt.Sprintf(`{"a":%d,"b":%d}`, a, b)))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var rec job.Record
		if resp.StatusCode != http.StatusAccepted || json.NewDecoder(resp.Body).Decode(&rec) != nil {
			return false
		}
		id = rec.RequestID
		return true
	})
	return id
}

// await long-polls a job until its record is final.
func await(t *testing.T, id string, within time.Duration) job.Record {
	t.Helper()
	var rec job.Record
	eventually(t, within, "job "+id+" final", func() bool {
		status, body := get(api + "/sumPrime/" + id + "?wait=10s")
		return status == http.StatusOK && json.Unmarshal(body, &rec) == nil && rec.Status.Final()
	})
	return rec
}

func get(url string) (int, []byte) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func sum(t *testing.T, a, b uint64) string {
	s, _, err := primes.Sum(context.Background(), a, b, primes.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s.String()
}

// kafkaClient reaches the broker through its port published on 127.0.0.1;
// the broker advertises kafka:9092, its name on the compose network.
func kafkaClient() *kafka.Client {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+kafkaPort)
	}
	return &kafka.Client{Addr: kafka.TCP("127.0.0.1:" + kafkaPort), Timeout: 10 * time.Second, Transport: &kafka.Transport{Dial: dial}}
}

// members returns how many partitions of topic each member of group holds.
func members(t *testing.T, group, topic string) []int {
	resp, err := kafkaClient().DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
		return nil
	}
	var shares []int
	for _, m := range resp.Groups[0].Members {
		n := 0
		for _, tp := range m.MemberAssignments.Topics {
			if tp.Topic == topic {
				n += len(tp.Partitions)
			}
		}
		shares = append(shares, n)
	}
	return shares
}

// endOffsets is the sum of topic's partitions' end offsets.
func endOffsets(t *testing.T, topic string) int64 {
	var total int64
	for _, o := range offsets(t, topic) {
		total += o
	}
	return total
}

func offsets(t *testing.T, topic string) map[int]int64 {
	t.Helper()
	c := kafkaClient()
	meta, err := c.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		t.Fatalf("topic %s: %v %+v", topic, err, meta)
	}
	var req []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		req = append(req, kafka.LastOffsetOf(p.ID))
	}
	resp, err := c.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.LastOffset
	}
	return out
}

// groupLag is how far group's committed offsets are behind topic's ends.
func groupLag(t *testing.T, group, topic string) int64 {
	t.Helper()
	ends := offsets(t, topic)
	var parts []int
	for p := range ends {
		parts = append(parts, p)
	}
	resp, err := kafkaClient().OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		t.Fatal(err)
	}
	var lag int64
	for _, p := range resp.Topics[topic] {
		if p.CommittedOffset >= 0 {
			lag += ends[p.Partition] - p.CommittedOffset
		} else {
			lag += ends[p.Partition]
		}
	}
	return lag
}

// compose runs the compose command line of SUMPRIMES_COMPOSE with args.
func compose(t *testing.T, args ...string) string {
	t.Helper()
	cmd := strings.Fields(os.Getenv("SUMPRIMES_COMPOSE"))
	return run(t, cmd[0], append(cmd[1:], args...)...)
}

// busiest returns the worker containers, the one using the most CPU (the
// one computing a heavy job) first.
func busiest(t *testing.T) []string {
	ids := containers(t, "worker")
	cpu := map[string]float64{}
	for _, line := range strings.Split(docker(t, append([]string{"stats", "--no-stream", "--format", "{{.ID}} {{.CPUPerc}}"}, ids...)...), "\n") {
		var id string
		var perc float64
		if _, err := fmt.Sscanf(strings.TrimSuffix(line, "%"), "%s %g", &id, &perc); err == nil {
			cpu[id] = perc
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(cpu[b[:12]], cpu[a[:12]]) })
	return ids
}

// allHealthy reports whether every container of the project runs and
// passes its health check, and each one's state and last check.
func allHealthy(t *testing.T) (bool, string) {
	ids := strings.Fields(compose(t, "ps", "--quiet", "--all"))
	states := docker(t, append([]string{"inspect", "-f",
		`{{.Name}} {{.State.Status}}/{{.State.Health.Status}} {{json .State.Health.Log}}`}, ids...)...)
	return strings.Count(states, "running/healthy") == len(ids), states
}

func containers(t *testing.T, service string) []string {
	return strings.Fields(compose(t, "ps", "--quiet", service))
}

func docker(t *testing.T, args ...string) string { t.Helper(); return run(t, "docker", args...) }

// dockerOut is docker's standard output and error together (docker logs
// writes the container's standard error to its own).
func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// eventually waits for cond; on timeout it fails, saying what it waited
// for and what the optional explain says.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			why := ""
			for _, e := range explain {
				why += "\n" + e()
			}
			t.Fatalf("timed out after %s waiting for %s%s", within, what, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
