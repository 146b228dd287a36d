package config_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/sumprimes/sumprimes/pkg/config"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sumprimes.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	t.Run("HasWorkingDefaults", func(t *testing.T) {
		cfg, err := config.Load(config.Source{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Result.TTL != 3*time.Minute || cfg.Kafka.Topic != "sumprimes.jobs" || cfg.Kafka.Partitions != 12 ||
			cfg.Kafka.Group != "sumprimes-workers" || cfg.Limits.MaxB != math.MaxUint64 || cfg.Limits.MaxCost != time.Minute {
			t.Fatalf("defaults = %+v", cfg)
		}
	})

	t.Run("LayersFileThenEnvironmentThenFlags", func(t *testing.T) {
		file := writeFile(t, "http:\n  addr: 127.0.0.1:1111\nkafka:\n  topic: from-file\n  brokers: [a:1, b:2]\nresult:\n  ttl: 1m\n")
		t.Setenv("SUMPRIMES_KAFKA_TOPIC", "from-env")
		t.Setenv("SUMPRIMES_HTTP_ADDR", "127.0.0.1:2222")
		flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
		flags.String("http-addr", "", "")
		if err := flags.Parse([]string{"--http-addr=127.0.0.1:3333"}); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(config.Source{
			File: file, Flags: flags,
			Bind: []config.Flag{{Name: "http-addr", Key: "http.addr"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTP.Addr != "127.0.0.1:3333" {
			t.Errorf("http.addr = %q, want the flag's value", cfg.HTTP.Addr)
		}
		if cfg.Kafka.Topic != "from-env" {
			t.Errorf("kafka.topic = %q, want the environment's value", cfg.Kafka.Topic)
		}
		if cfg.Result.TTL != time.Minute || strings.Join(cfg.Kafka.Brokers, ",") != "a:1,b:2" {
			t.Errorf("file values lost: ttl %s, brokers %v", cfg.Result.TTL, cfg.Kafka.Brokers)
		}
	})

	t.Run("TakesTheWhole64BitRangeForMaxBFromTheEnvironment", func(t *testing.T) {
		for _, v := range []string{"18446744073709551615", "10000000000000000000"} {
			t.Setenv("SUMPRIMES_LIMITS_MAX_B", v)
			cfg, err := config.Load(config.Source{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(cfg.Limits.MaxB); got != v {
				t.Errorf("limits.max_b = %s, want %s", got, v)
			}
		}
	})

	t.Run("SplitsCommaSeparatedListsFromTheEnvironment", func(t *testing.T) {
		t.Setenv("SUMPRIMES_KAFKA_BROKERS", "k1:9092, k2:9092")
		t.Setenv("SUMPRIMES_REDIS_ADDR", "r1:6379,r2:6379,r3:6379")
		cfg, err := config.Load(config.Source{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Kafka.Brokers) != 2 || cfg.Kafka.Brokers[1] != "k2:9092" || len(cfg.Redis.Addrs) != 3 {
			t.Fatalf("brokers %q, redis %q", cfg.Kafka.Brokers, cfg.Redis.Addrs)
		}
	})

	t.Run("TakesAnEmptyVariableAsAnEmptyValue", func(t *testing.T) {
		t.Setenv("SUMPRIMES_METRICS_ADDR", "")
		cfg, err := config.Load(config.Source{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Metrics.Addr != "" {
			t.Fatalf("metrics.addr = %q, want empty (off)", cfg.Metrics.Addr)
		}
	})

	t.Run("LetsARoleReplaceADefault", func(t *testing.T) {
		cfg, err := config.Load(config.Source{Defaults: map[string]any{"http.addr": "127.0.0.1:8080"}})
		if err != nil || cfg.HTTP.Addr != "127.0.0.1:8080" {
			t.Fatalf("http.addr = %q, %v", cfg.HTTP.Addr, err)
		}
	})
}

// TestLoadRefuses: a bad configuration is refused whole, each key at fault
// named.
func TestLoadRefuses(t *testing.T) {
	t.Run("NamesEveryInvalidKey", func(t *testing.T) {
		t.Setenv("SUMPRIMES_KAFKA_PARTITIONS", "0")
		t.Setenv("SUMPRIMES_RESULT_TTL", "0s")
		t.Setenv("SUMPRIMES_LOG_LEVEL", "loud")
		_, err := config.Load(config.Source{})
		if err == nil {
			t.Fatal("invalid configuration accepted")
		}
		for _, key := range []string{"kafka.partitions", "SUMPRIMES_KAFKA_PARTITIONS", "result.ttl", "log.level"} {
			if !strings.Contains(err.Error(), key) {
				t.Errorf("error %q does not name %s", err, key)
			}
		}
	})

	t.Run("RejectsValuesOfTheWrongType", func(t *testing.T) {
		t.Setenv("SUMPRIMES_RESULT_TTL", "three minutes")
		if _, err := config.Load(config.Source{}); err == nil || !strings.Contains(err.Error(), "ttl") {
			t.Fatalf("error = %v, want one naming ttl", err)
		}
	})

	t.Run("RejectsUnknownKeysInTheFile", func(t *testing.T) {
		file := writeFile(t, "kafka:\n  topik: typo\n")
		if _, err := config.Load(config.Source{File: file}); err == nil || !strings.Contains(err.Error(), "kafka.topik") {
			t.Fatalf("error = %v, want one naming kafka.topik", err)
		}
	})
}

// TestLoadSecrets: API keys and passwords are read, and never shown.
func TestLoadSecrets(t *testing.T) {
	t.Run("ReadsAPIKeysFromTheEnvironmentAndAFile", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(file, []byte("# rotated monthly\nalice:k2\n\nbob : k3\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SUMPRIMES_AUTH_KEYS", "alice:k1")
		t.Setenv("SUMPRIMES_AUTH_KEYS_FILE", file)
		cfg, err := config.Load(config.Source{})
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := cfg.Auth.APIKeys()
		want := []config.APIKey{{Name: "alice", Key: "k1"}, {Name: "alice", Key: "k2"}, {Name: "bob", Key: "k3"}}
		if fmt.Sprint(keys) != fmt.Sprint(want) {
			t.Fatalf("keys = %v, want %v", keys, want)
		}
		if out := fmt.Sprintf("%+v", cfg); strings.Contains(out, "k1") {
			t.Errorf("the config shows a key: %s", out)
		}
	})

	t.Run("RefusesAnAPIKeyEntryWithoutShowingIt", func(t *testing.T) {
		t.Setenv("SUMPRIMES_AUTH_KEYS", "alice:k1,justasecret")
		_, err := config.Load(config.Source{})
		if err == nil || !strings.Contains(err.Error(), "auth.keys") || strings.Contains(err.Error(), "justasecret") {
			t.Fatalf("Load = %v, want auth.keys named and the entry not shown", err)
		}
	})

	t.Run("NeverPrintsTheRedisPassword", func(t *testing.T) {
		t.Setenv("SUMPRIMES_REDIS_PASSWORD", "hunter2")
		cfg, err := config.Load(config.Source{})
		if err != nil {
			t.Fatal(err)
		}
		if string(cfg.Redis.Password) != "hunter2" {
			t.Fatalf("password not loaded")
		}
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(format, cfg); strings.Contains(out, "hunter2") {
				t.Errorf("%s of the config shows the password: %s", format, out)
			}
		}
	})

	t.Run("NamesAnEnvironmentVariableForEveryKey", func(t *testing.T) {
		if got := config.EnvVar("http.addr"); got != "SUMPRIMES_HTTP_ADDR" {
			t.Fatalf("EnvVar(http.addr) = %s", got)
		}
		if len(config.Keys()) < 20 {
			t.Fatalf("Keys() = %v", config.Keys())
		}
	})
}

// TestTheREADMEDocumentsEveryKey keeps the configuration table true.
func TestTheREADMEDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range config.Keys() {
		if !strings.Contains(string(readme), "`"+key+"`") || !strings.Contains(string(readme), config.EnvVar(key)) {
			t.Errorf("README.md does not document %s (%s)", key, config.EnvVar(key))
		}
	}
}

// TestAdminsFromTheEnvironment: auth.admins reads a comma-separated list
// from its variable, as the other lists do.
func TestAdminsFromTheEnvironment(t *testing.T) {
	t.Setenv("SUMPRIMES_AUTH_ADMINS", "carol, dave")
	cfg, err := config.Load(config.Source{})
	if err != nil || len(cfg.Auth.Admins) != 2 || cfg.Auth.Admins[1] != "dave" {
		t.Fatalf("auth.admins from SUMPRIMES_AUTH_ADMINS=\"carol, dave\": %q, %v", cfg.Auth.Admins, err)
	}
}
