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

// TestSecuredRedis runs the pipeline on a TLS-only Redis with a password,
// the client authenticated by its certificate too.
func TestSecuredRedis(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	_, cfg.Redis = testenv.RedisTLS(t)
	cfg.Redis.KeyPrefix = "sumprimes-test:" + testenv.Unique() + ":"
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
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound, not a timing under test
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "worker")
			cmd.Env = append(os.Environ(), append(c.env, "SUMPRIMES_METRICS_ADDR=", "SUMPRIMES_KAFKA_BROKERS="+strings.Join(testenv.KafkaBrokers(t), ","))...)
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil || !strings.Contains(string(out), c.want) {
				t.Fatalf("worker = %v (ctx %v), output:\n%s\nwant a prompt failure naming %s", err, ctx.Err(), out, c.want)
			}
		})
	}
}
