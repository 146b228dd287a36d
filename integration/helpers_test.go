// Package integration tests the service end to end through its HTTP API, on
// a real Apache Kafka broker and a real Redis server (see internal/testenv),
// through the same start-up paths the binary uses.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/internal/app"
	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// binary is the sumprimes binary built once for tests that run processes.
var binary string

// longB makes [1, longB] a job of tens of seconds on a worker of one
// thread (S(10^16) by the prefix engine), within the default
// limits.max_cost: long enough to cancel, watch or kill in the middle of.
const longB = 10_000_000_000_000_000

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sumprimes-integration")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sumprimes")
	build := exec.Command("go", "build", "-race", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sumprimes:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startAPI runs the api role in this process and returns its base URL.
func startAPI(t *testing.T, cfg config.Config) string {
	t.Helper()
	url := startAPIUnready(t, cfg)
	waitReady(t, url)
	return url
}

// startAPIUnready runs the api role without waiting for it to be ready,
// for tests whose dependencies are down.
func startAPIUnready(t *testing.T, cfg config.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runRole(t, cfg, ln, app.API)
	return "http://" + ln.Addr().String()
}

// startWorker runs the worker role in this process.
func startWorker(t *testing.T, cfg config.Config) {
	t.Helper()
	runRole(t, cfg, nil, app.Worker)
}

// runRole runs roles through the module map, as the binary does, until the
// test ends; then it stops them and waits.
func runRole(t *testing.T, cfg config.Config, ln net.Listener, roles ...app.Module) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts := app.Options{Config: cfg, Log: testenv.Logger(t), Listener: ln}
	go func() { done <- app.Run(ctx, opts, roles...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("role stopped with %v", err)
		}
	})
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, url+"/readyz", func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) record(t *testing.T) job.Record {
	t.Helper()
	var rec job.Record
	if err := json.Unmarshal(r.body, &rec); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return rec
}

func post(t *testing.T, url, body string) response {
	t.Helper()
	resp, err := http.Post(url+"/sumPrime", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func get(t *testing.T, url string) response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t *testing.T, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

// submit posts [a, b] and returns the accepted request id.
func submit(t *testing.T, url string, a, b uint64) string {
	t.Helper()
	r := post(t, url, fmt.Sprintf(`{"a": %d, "b": %d}`, a, b))
	if r.status != http.StatusAccepted {
		t.Fatalf("POST [%d, %d] = %d %s, want 202", a, b, r.status, r.body)
	}
	return r.record(t).RequestID
}

// await long-polls the request until it reaches a final state: the API
// answers as soon as the record changes, so nothing here sleeps.
func await(t *testing.T, url, id string) job.Record {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := get(t, url+"/sumPrime/"+id+"?wait=30s")
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", id, r.status, r.body)
		}
		if rec := r.record(t); rec.Status.Final() {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s not final after 90s", id)
		}
	}
}

// process is a sumprimes binary running as a child process.
type process struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startProcess runs the binary with args and the test configuration in its
// environment, and kills it when the test ends.
func startProcess(t *testing.T, cfg config.Config, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, args...), out: &syncBuffer{}}
	p.cmd.Env = append(os.Environ(),
		"SUMPRIMES_KAFKA_BROKERS="+strings.Join(cfg.Kafka.Brokers, ","),
		"SUMPRIMES_KAFKA_TOPIC="+cfg.Kafka.Topic,
		"SUMPRIMES_KAFKA_DLQ_TOPIC="+cfg.Kafka.DLQTopic,
		fmt.Sprintf("SUMPRIMES_KAFKA_PARTITIONS=%d", cfg.Kafka.Partitions),
		"SUMPRIMES_KAFKA_GROUP="+cfg.Kafka.Group,
		"SUMPRIMES_KAFKA_HEAVY_TOPIC="+cfg.Kafka.HeavyTopic,
		"SUMPRIMES_KAFKA_HEAVY_GROUP="+cfg.Kafka.HeavyGroup,
		"SUMPRIMES_KAFKA_TASK_TOPIC="+cfg.Kafka.TaskTopic,
		"SUMPRIMES_KAFKA_TASK_GROUP="+cfg.Kafka.TaskGroup,
		"SUMPRIMES_SCATTER_THRESHOLD="+cfg.Scatter.Threshold.String(),
		"SUMPRIMES_SCATTER_TASK_COST="+cfg.Scatter.TaskCost.String(),
		"SUMPRIMES_REDIS_ADDR="+strings.Join(cfg.Redis.Addrs, ","),
		"SUMPRIMES_REDIS_KEY_PREFIX="+cfg.Redis.KeyPrefix,
		fmt.Sprintf("SUMPRIMES_WORKER_CONCURRENCY=%d", cfg.Worker.Concurrency),
		"SUMPRIMES_WORKER_THREADS=1",
		"SUMPRIMES_LOG_FORMAT=json",
		"SUMPRIMES_METRICS_ADDR=127.0.0.1:0",
		"SUMPRIMES_RATELIMIT_ENABLED=false",
		"SUMPRIMES_JANITOR_INTERVAL="+cfg.Janitor.Interval.String(),
		"SUMPRIMES_JANITOR_STALE_AFTER="+cfg.Janitor.StaleAfter.String(),
	)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("process exited with %v after SIGTERM:\n%s", err, p.out.String())
	}
}

// jobsDone counts the jobs the process logged as done.
func (p *process) jobsDone() int { return strings.Count(p.out.String(), `"msg":"job done"`) }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// assignments returns, for each member of the consumer group, how many
// partitions it holds.
func assignments(t *testing.T, cfg config.Config) []int {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Timeout: 5 * time.Second, Transport: testenv.KafkaTransport(t)}
	resp, err := client.DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{cfg.Kafka.Group}})
	if err != nil || len(resp.Groups) == 0 || resp.Groups[0].Error != nil {
		return nil
	}
	var held []int
	for _, m := range resp.Groups[0].Members {
		n := 0
		for _, topic := range m.MemberAssignments.Topics {
			n += len(topic.Partitions)
		}
		held = append(held, n)
	}
	return held
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
