// Package testenv finds the real Kafka broker and Redis server the tests run
// against and gives each test its own corner of them.
//
// Addresses come from SUMPRIMES_TEST_KAFKA_BROKERS and
// SUMPRIMES_TEST_REDIS_ADDR (defaults 127.0.0.1:9092 and 127.0.0.1:6379;
// `make test` starts both). A missing service skips the test on a
// developer's machine and fails it under CI=true.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// KafkaBrokers returns the test broker addresses.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	brokers := strings.Split(env("SUMPRIMES_TEST_KAFKA_BROKERS", "127.0.0.1:9092"), ",")
	require(t, "Kafka", brokers[0])
	return brokers
}

// RedisAddr returns the test Redis address.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := env("SUMPRIMES_TEST_REDIS_ADDR", "127.0.0.1:6379")
	require(t, "Redis", addr)
	return addr
}

// Redis returns a client on the test Redis, closed when the test ends.
func Redis(t testing.TB) redis.UniversalClient {
	t.Helper()
	c := store.NewClient(store.Config{Addrs: []string{RedisAddr(t)}})
	t.Cleanup(func() { c.Close() })
	return c
}

// RedisClusterAddrs returns the test Redis Cluster's nodes, from
// SUMPRIMES_TEST_REDIS_CLUSTER (comma-separated; default the three masters
// scripts/redis-cluster.sh starts on 127.0.0.1:7001-7003).
func RedisClusterAddrs(t testing.TB) []string {
	t.Helper()
	addrs := strings.Split(env("SUMPRIMES_TEST_REDIS_CLUSTER", "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"), ",")
	require(t, "Redis Cluster", addrs[0])
	return addrs
}

// RedisCluster returns a cluster client on the test Redis Cluster, closed
// when the test ends.
func RedisCluster(t testing.TB) redis.UniversalClient {
	t.Helper()
	c := store.NewClient(store.Config{Addrs: RedisClusterAddrs(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

// Certs returns the directory of the test certificates scripts/certs.sh
// makes (SUMPRIMES_TEST_CERTS; default .cache/run/certs in the repository).
func Certs(t testing.TB) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	dir := env("SUMPRIMES_TEST_CERTS", filepath.Join(filepath.Dir(here), "..", "..", ".cache", "run", "certs"))
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no test certificates in %s under CI=true (make test makes them)", dir)
		}
		t.Skipf("no test certificates in %s: run scripts/certs.sh", dir)
	}
	return dir
}

// TLSFiles returns the TLS settings of a client of the test servers: their
// CA and, for mutual TLS, the client certificate.
func TLSFiles(t testing.TB) config.TLS {
	dir := Certs(t)
	return config.TLS{Enabled: true, CAFile: filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "client.pem"), KeyFile: filepath.Join(dir, "client.key")}
}

// RedisTLS returns the client configuration of the TLS-only test Redis
// (SUMPRIMES_TEST_REDIS_TLS_ADDR, default 127.0.0.1:6390, password
// sumprimes-test) and the settings it was built from.
func RedisTLS(t testing.TB) (store.Config, config.Redis) {
	t.Helper()
	addr := env("SUMPRIMES_TEST_REDIS_TLS_ADDR", "127.0.0.1:6390")
	require(t, "Redis (TLS)", addr)
	settings := config.Redis{Addrs: []string{addr}, Password: "sumprimes-test", TLS: TLSFiles(t)}
	tlsConfig, err := settings.TLS.Config()
	if err != nil {
		t.Fatal(err)
	}
	return store.Config{Addrs: settings.Addrs, Password: string(settings.Password), TLS: tlsConfig}, settings
}

// RedisSentinelAddr returns the test Sentinel's address
// (SUMPRIMES_TEST_REDIS_SENTINEL, default 127.0.0.1:26400, the set
// scripts/redis-sentinel.sh starts, watching master "sumprimes").
func RedisSentinelAddr(t testing.TB) string {
	t.Helper()
	addr := env("SUMPRIMES_TEST_REDIS_SENTINEL", "127.0.0.1:26400")
	require(t, "Redis Sentinel", addr)
	return addr
}

// Config returns the service configuration pointed at the test services,
// with a topic, consumer group and key prefix of the test's own, so tests
// can run in parallel without seeing each other's jobs.
func Config(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Source{})
	if err != nil {
		t.Fatalf("default configuration: %v", err)
	}
	q := Queue(t)
	cfg.Kafka.Brokers, cfg.Kafka.Topic, cfg.Kafka.DLQTopic, cfg.Kafka.Group = q.Brokers, q.Topic, q.DLQTopic, q.Group
	cfg.Kafka.HeavyTopic, cfg.Kafka.HeavyGroup = q.HeavyTopic, q.HeavyGroup
	cfg.Kafka.TaskTopic, cfg.Kafka.TaskGroup = q.TaskTopic, q.TaskGroup
	cfg.Kafka.Partitions = q.Partitions
	cfg.Redis.Addrs = []string{RedisAddr(t)}
	cfg.Redis.KeyPrefix = "sumprimes-test:" + Unique() + ":"
	cfg.Worker.Concurrency = 2
	cfg.Worker.Threads = 1
	// These workers share the CPUs with the other packages' tests, which
	// heavy engine threads under SCHED_IDLE would wait for (a minute and
	// more, with the engines' own tests running): worker.light_first is
	// for a worker that competes with its own light lane.
	cfg.Worker.LightFirst = false
	// In-process roles share one registry, read at the API's /metrics.
	cfg.Metrics.Addr, cfg.HTTP.PublicMetrics = "", true
	// Tests poll hard from one address; the rate-limit test sets its own.
	cfg.RateLimit.SubmitRate, cfg.RateLimit.SubmitBurst = 1e6, 1e6
	cfg.RateLimit.PollRate, cfg.RateLimit.PollBurst = 1e6, 1e6
	return cfg
}

// Queue returns a queue configuration on the test broker with a topic, a
// dead-letter topic and a consumer group of the test's own.
func Queue(t testing.TB) queue.Config {
	t.Helper()
	id := Unique()
	return queue.Config{
		Brokers: KafkaBrokers(t), Topic: "sumprimes.test." + id, DLQTopic: "sumprimes.test." + id + ".dlq",
		Group: "sumprimes-test-" + id, Partitions: 4, ReplicationFactor: 1, BatchTimeout: 2 * time.Millisecond,
		HeavyTopic: "sumprimes.test." + id + ".heavy", HeavyGroup: "sumprimes-test-" + id + "-heavy",
		TaskTopic: "sumprimes.test." + id + ".tasks", TaskGroup: "sumprimes-test-" + id + "-tasks",
	}
}

// Broker starts an in-process Kafka-protocol broker (kfake) for the test,
// stopped when it ends, and returns a queue configuration on it: for unit
// tests that need a broker but not the real one's durability.
func Broker(t testing.TB) queue.Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("in-process broker: %v", err)
	}
	t.Cleanup(c.Close)
	return queue.Config{
		Brokers: c.ListenAddrs(), Topic: "sumprimes.jobs", DLQTopic: "sumprimes.jobs.dlq", Group: "sumprimes-workers",
		Partitions: 4, ReplicationFactor: 1, BatchTimeout: 2 * time.Millisecond,
		HeavyTopic: "sumprimes.jobs.heavy", HeavyGroup: "sumprimes-workers-heavy",
		TaskTopic: "sumprimes.tasks", TaskGroup: "sumprimes-workers-tasks",
	}
}

// KafkaTransport returns a kafka-go transport of the test's own, closed when
// it ends. kafka-go's default transport answers metadata from a cache that
// may predate the test's topics, and leaves its connections open.
func KafkaTransport(t testing.TB) *kafka.Transport {
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// KafkaSASL returns a queue configuration of the test's own on the test
// broker's SASL_SSL listener (SUMPRIMES_TEST_KAFKA_SASL_BROKERS, default
// 127.0.0.1:9094), signing in as scripts/kafka.sh's user with mechanism
// (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), and the settings it came from.
func KafkaSASL(t testing.TB, mechanism string) (queue.Config, config.Kafka) {
	t.Helper()
	brokers := strings.Split(env("SUMPRIMES_TEST_KAFKA_SASL_BROKERS", "127.0.0.1:9094"), ",")
	require(t, "Kafka (SASL_SSL)", brokers[0])
	q := Queue(t)
	q.Brokers = brokers
	settings := config.Kafka{Brokers: brokers, TLS: TLSFiles(t),
		SASL: config.SASL{Mechanism: mechanism, Username: "sumprimes", Password: "sumprimes-secret"}}
	var err error
	if q.TLS, err = settings.TLS.Config(); err != nil {
		t.Fatal(err)
	}
	switch mechanism {
	case "PLAIN":
		q.SASL = plain.Mechanism{Username: "sumprimes", Password: "sumprimes-secret"}
	case "SCRAM-SHA-256":
		q.SASL, err = scram.Mechanism(scram.SHA256, "sumprimes", "sumprimes-secret")
	case "SCRAM-SHA-512":
		q.SASL, err = scram.Mechanism(scram.SHA512, "sumprimes", "sumprimes-secret")
	}
	if err != nil {
		t.Fatal(err)
	}
	return q, settings
}

// OnKafkaSASL points cfg at the broker's SASL_SSL listener, signing in
// with mechanism, on a topic and groups of the test's own (see KafkaSASL).
func OnKafkaSASL(t testing.TB, cfg *config.Config, mechanism string) {
	t.Helper()
	q, kafka := KafkaSASL(t, mechanism)
	cfg.Kafka.Brokers, cfg.Kafka.TLS, cfg.Kafka.SASL = kafka.Brokers, kafka.TLS, kafka.SASL
	cfg.Kafka.Topic, cfg.Kafka.DLQTopic, cfg.Kafka.Group = q.Topic, q.DLQTopic, q.Group
	cfg.Kafka.HeavyTopic, cfg.Kafka.HeavyGroup = q.HeavyTopic, q.HeavyGroup
	cfg.Kafka.TaskTopic, cfg.Kafka.TaskGroup = q.TaskTopic, q.TaskGroup
}

// Unique returns a short random name part.
func Unique() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Logger returns a logger that writes through t.Log, or discards under -v=false.
func Logger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Eventually polls cond every 50 ms until it holds or the deadline passes.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", within, what)
		case <-tick.C:
		}
	}
}

func require(t testing.TB, name, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable at %s under CI=true: %v (make test starts it)", name, addr, err)
	}
	t.Skipf("%s is not reachable at %s: %v (run make test, or make services-up)", name, addr, err)
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
