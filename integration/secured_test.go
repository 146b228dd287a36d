package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
)

// TestSecuredBackends runs the pipeline on the secured backends only: Kafka
// over SASL_SSL (SCRAM-SHA-512) and a TLS-only Redis with a password, the
// clients presenting their certificate to both.
func TestSecuredBackends(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	_, cfg.Redis = testenv.RedisTLS(t)
	cfg.Redis.KeyPrefix = "sumprimes-test:" + testenv.Unique() + ":"
	testenv.OnKafkaSASL(t, &cfg, "SCRAM-SHA-512")
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	if rec := await(t, url, submit(t, url, 1, 1_000_000)); rec.Status != "FINISHED" || *rec.Payload != "37550402023" {
		t.Fatalf("record = %+v, want FINISHED 37550402023", rec)
	}
}

// TestMisconfiguredStart: a setting the server refuses stops the binary at
// start, with a message naming the key to fix, instead of a service that
// runs and fails every request.
func TestMisconfiguredStart(t *testing.T) {
	t.Parallel()
	_, tlsRedis := testenv.RedisTLS(t)
	_, kafka := testenv.KafkaSASL(t, "PLAIN")
	certs := testenv.Certs(t)
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"WrongRedisPassword", []string{"SUMPRIMES_REDIS_ADDR=" + tlsRedis.Addrs[0], "SUMPRIMES_REDIS_PASSWORD=guess",
			"SUMPRIMES_REDIS_TLS_ENABLED=true", "SUMPRIMES_REDIS_TLS_CA_FILE=" + filepath.Join(certs, "ca.pem")}, "redis.password"},
		{"UnknownCA", []string{"SUMPRIMES_REDIS_ADDR=" + tlsRedis.Addrs[0], "SUMPRIMES_REDIS_PASSWORD=sumprimes-test",
			"SUMPRIMES_REDIS_TLS_ENABLED=true", "SUMPRIMES_REDIS_TLS_CA_FILE=" + filepath.Join(certs, "other-ca.pem")}, "redis.tls.ca_file"},
		{"PlaintextOnTheTLSPort", []string{"SUMPRIMES_REDIS_ADDR=" + tlsRedis.Addrs[0], "SUMPRIMES_REDIS_PASSWORD=sumprimes-test"}, "redis.tls.enabled"},
		{"MissingCAFile", []string{"SUMPRIMES_REDIS_TLS_ENABLED=true", "SUMPRIMES_REDIS_TLS_CA_FILE=/nonexistent/ca.pem"}, "redis.tls"},
		{"WrongKafkaPassword", []string{"SUMPRIMES_REDIS_ADDR=" + testenv.RedisAddr(t), "SUMPRIMES_KAFKA_BROKERS=" + strings.Join(kafka.Brokers, ","),
			"SUMPRIMES_KAFKA_TLS_ENABLED=true", "SUMPRIMES_KAFKA_TLS_CA_FILE=" + filepath.Join(certs, "ca.pem"),
			"SUMPRIMES_KAFKA_SASL_MECHANISM=PLAIN", "SUMPRIMES_KAFKA_SASL_USERNAME=sumprimes", "SUMPRIMES_KAFKA_SASL_PASSWORD=guess"}, "kafka.sasl.password"},
		{"KafkaUnknownCA", []string{"SUMPRIMES_REDIS_ADDR=" + testenv.RedisAddr(t), "SUMPRIMES_KAFKA_BROKERS=" + strings.Join(kafka.Brokers, ","),
			"SUMPRIMES_KAFKA_TLS_ENABLED=true", "SUMPRIMES_KAFKA_TLS_CA_FILE=" + filepath.Join(certs, "other-ca.pem"),
			"SUMPRIMES_KAFKA_SASL_MECHANISM=PLAIN", "SUMPRIMES_KAFKA_SASL_USERNAME=sumprimes", "SUMPRIMES_KAFKA_SASL_PASSWORD=sumprimes-secret"}, "kafka.tls.ca_file"},
		{"KafkaPlaintextOnTheTLSListener", []string{"SUMPRIMES_REDIS_ADDR=" + testenv.RedisAddr(t), "SUMPRIMES_KAFKA_BROKERS=" + strings.Join(kafka.Brokers, ",")}, "kafka.tls.enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound, not a timing under test
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "worker")
			env := append([]string{"SUMPRIMES_METRICS_ADDR=", "SUMPRIMES_KAFKA_BROKERS=" + strings.Join(testenv.KafkaBrokers(t), ",")}, c.env...)
			cmd.Env = append(os.Environ(), env...) // the case's settings last: they win
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil || !strings.Contains(string(out), c.want) {
				t.Fatalf("worker = %v (ctx %v), output:\n%s\nwant a prompt failure naming %s", err, ctx.Err(), out, c.want)
			}
		})
	}
}
