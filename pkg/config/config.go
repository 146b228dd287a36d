// Package config loads the service's configuration: built-in defaults, then a
// YAML file (--config), then SUMPRIMES_* environment variables, then flags,
// each overriding the one before. Every role reads the same keys.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// EnvPrefix starts every environment variable: http.addr is SUMPRIMES_HTTP_ADDR.
const EnvPrefix = "SUMPRIMES"

// Config is everything a role needs. Field tags are the configuration keys.
type Config struct {
	HTTP      HTTP      `mapstructure:"http"`
	Kafka     Kafka     `mapstructure:"kafka"`
	Redis     Redis     `mapstructure:"redis"`
	Result    Result    `mapstructure:"result"`
	Worker    Worker    `mapstructure:"worker"`
	Limits    Limits    `mapstructure:"limits"`
	Log       Log       `mapstructure:"log"`
	RateLimit RateLimit `mapstructure:"ratelimit"`
	Janitor   Janitor   `mapstructure:"janitor"`
	Callbacks Callbacks `mapstructure:"callbacks"`
	Metrics   Metrics   `mapstructure:"metrics"`
}

// Metrics configures where the worker and janitor roles serve /metrics,
// /healthz and /readyz (the API serves them on its own listener).
type Metrics struct {
	Addr string `mapstructure:"addr"`
}

// Callbacks configures the signed POST of final records to clients' URLs.
type Callbacks struct {
	// Secret signs callbacks; without it, callbacks are off.
	Secret Secret `mapstructure:"secret"`
	// AllowedNetworks may be called back although loopback, link-local or
	// private (CIDRs); everything else internal is refused.
	AllowedNetworks []string      `mapstructure:"allowed_networks"`
	Attempts        int           `mapstructure:"attempts"`
	Timeout         time.Duration `mapstructure:"timeout"`
}

// Networks parses AllowedNetworks; Validate has checked them.
func (c Callbacks) Networks() []*net.IPNet { return networks(c.AllowedNetworks) }

// Janitor configures the recovery of lost jobs.
type Janitor struct {
	Interval    time.Duration `mapstructure:"interval"`
	StaleAfter  time.Duration `mapstructure:"stale_after"`
	MaxAttempts int           `mapstructure:"max_attempts"`
}

// RateLimit configures the per-client budgets the API enforces, shared by
// every replica through Redis.
type RateLimit struct {
	Enabled        bool     `mapstructure:"enabled"`
	SubmitRate     float64  `mapstructure:"submit_rate"`
	SubmitBurst    int      `mapstructure:"submit_burst"`
	PollRate       float64  `mapstructure:"poll_rate"`
	PollBurst      int      `mapstructure:"poll_burst"`
	APIKeyHeader   string   `mapstructure:"api_key_header"`
	TrustedProxies []string `mapstructure:"trusted_proxies"`
}

// Proxies parses TrustedProxies (CIDRs or single addresses); Validate has
// checked them.
func (r RateLimit) Proxies() []*net.IPNet { return networks(r.TrustedProxies) }

// networks parses CIDRs or single addresses, leaving out what Validate
// has reported.
func networks(list []string) []*net.IPNet {
	var out []*net.IPNet
	for _, s := range list {
		if n, err := parseCIDR(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func parseCIDR(s string) (*net.IPNet, error) {
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("not an address")
		}
		bits := 8 * len(ip.To16())
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	return n, err
}

// HTTP configures the API's listener.
type HTTP struct {
	Addr            string        `mapstructure:"addr"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// DrainDelay is how long the API keeps serving, not ready, after a
	// shutdown signal: the time a load balancer takes to stop sending.
	DrainDelay     time.Duration `mapstructure:"drain_delay"`
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// MaxWait caps a long-poll's ?wait=.
	MaxWait time.Duration `mapstructure:"max_wait"`
}

// Kafka configures the job queue.
type Kafka struct {
	Brokers           []string      `mapstructure:"brokers"`
	Topic             string        `mapstructure:"topic"`
	Partitions        int           `mapstructure:"partitions"`
	ReplicationFactor int           `mapstructure:"replication_factor"`
	Group             string        `mapstructure:"group"`
	DLQTopic          string        `mapstructure:"dlq_topic"`
	BatchTimeout      time.Duration `mapstructure:"batch_timeout"`
}

// Redis configures the result store. One address is a single node; several
// are a Cluster; a MasterName makes them Sentinels.
type Redis struct {
	Addrs      []string `mapstructure:"addr"`
	MasterName string   `mapstructure:"master_name"`
	Username   string   `mapstructure:"username"`
	Password   Secret   `mapstructure:"password"`
	DB         int      `mapstructure:"db"`
	KeyPrefix  string   `mapstructure:"key_prefix"`
}

// Result configures how long results stay readable.
type Result struct {
	TTL time.Duration `mapstructure:"ttl"`
}

// Worker configures the consumers.
type Worker struct {
	// Concurrency is how many consumer-group members (jobs at once) one
	// worker process runs.
	Concurrency int `mapstructure:"concurrency"`
	// Threads is how many goroutines one job's sieve uses; 0 means
	// GOMAXPROCS divided by Concurrency, at least 1.
	Threads int `mapstructure:"threads"`
	// DrainTimeout is how long jobs in flight at shutdown may take to
	// finish before they are abandoned, uncommitted, to be redelivered.
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
	// LeaseTTL is how long a job's lease lasts unrenewed; the janitor
	// leaves leased jobs alone.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
}

// Limits bound what a client may ask for.
type Limits struct {
	MaxB uint64 `mapstructure:"max_b"`
	// MaxCost is the most one job may take on one core, as the planner
	// estimates it.
	MaxCost time.Duration `mapstructure:"max_cost"`
	// MaxBacklog is the consumer-group lag above which submits are refused
	// with 503 until the workers catch up; 0 turns it off.
	MaxBacklog int64 `mapstructure:"max_backlog"`
}

// Log configures logging.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Secret is a string that never prints itself, so a logged or dumped Config
// does not leak it.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// defaults lists every key with its default value; a key missing here is
// invisible to environment variables, so every key must appear.
var defaults = map[string]any{
	"http.addr":                  ":8080",
	"http.shutdown_timeout":      "10s",
	"http.drain_delay":           "0s",
	"http.request_timeout":       "5s",
	"http.max_wait":              "60s",
	"kafka.brokers":              []string{"127.0.0.1:9092"},
	"kafka.topic":                "sumprimes.jobs",
	"kafka.partitions":           12,
	"kafka.replication_factor":   1,
	"kafka.group":                "sumprimes-workers",
	"kafka.dlq_topic":            "sumprimes.jobs.dlq",
	"kafka.batch_timeout":        "2ms",
	"redis.addr":                 []string{"127.0.0.1:6379"},
	"redis.master_name":          "",
	"redis.username":             "",
	"redis.password":             "",
	"redis.db":                   0,
	"redis.key_prefix":           "sumprimes:",
	"result.ttl":                 "3m",
	"worker.concurrency":         2,
	"worker.threads":             0,
	"worker.drain_timeout":       "10s",
	"worker.lease_ttl":           "15s",
	"limits.max_b":               uint64(1e13),
	"limits.max_backlog":         100000,
	"limits.max_cost":            "12s",
	"ratelimit.enabled":          true,
	"ratelimit.submit_rate":      10,
	"ratelimit.submit_burst":     20,
	"ratelimit.poll_rate":        20,
	"ratelimit.poll_burst":       40,
	"ratelimit.api_key_header":   "X-API-Key",
	"ratelimit.trusted_proxies":  []string{},
	"janitor.interval":           "10s",
	"janitor.stale_after":        "1m",
	"janitor.max_attempts":       3,
	"callbacks.secret":           "",
	"callbacks.allowed_networks": []string{},
	"callbacks.attempts":         5,
	"callbacks.timeout":          "5s",
	"metrics.addr":               ":9090",
	"log.level":                  "info",
	"log.format":                 "text",
}

// Keys returns every configuration key, sorted.
func Keys() []string { return slices.Sorted(maps.Keys(defaults)) }

// EnvVar returns the environment variable that sets key.
func EnvVar(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Flag binds a command-line flag to a configuration key.
type Flag struct {
	Name string // flag name, e.g. "http-addr"
	Key  string // configuration key, e.g. "http.addr"
}

// Source says where to read configuration from, beyond the built-in
// defaults and the environment.
type Source struct {
	File  string         // YAML file; empty for none
	Flags *pflag.FlagSet // parsed flags; a flag counts only when given
	Bind  []Flag         // which flags set which keys
	// Defaults replace built-in defaults, for a role that needs others
	// (dev listens on loopback only).
	Defaults map[string]any
}

// Load reads the configuration: defaults < file < environment < flags.
func Load(src Source) (Config, error) {
	v := viper.New()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	for k, val := range src.Defaults {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if src.File != "" {
		v.SetConfigFile(src.File)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", src.File, err)
		}
		if err := unknownKeys(v); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", src.File, err)
		}
	}
	for _, f := range src.Bind {
		if fl := src.Flags.Lookup(f.Name); fl != nil {
			if err := v.BindPFlag(f.Key, fl); err != nil {
				return Config{}, fmt.Errorf("flag --%s: %w", f.Name, err)
			}
		}
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	c.Kafka.Brokers = splitList(c.Kafka.Brokers)
	c.Redis.Addrs = splitList(c.Redis.Addrs)
	c.RateLimit.TrustedProxies = splitList(c.RateLimit.TrustedProxies)
	c.Callbacks.AllowedNetworks = splitList(c.Callbacks.AllowedNetworks)
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// unknownKeys rejects keys in a config file that no code reads: a typo would
// otherwise be silently ignored.
func unknownKeys(v *viper.Viper) error {
	var errs []error
	for _, k := range v.AllKeys() {
		if _, ok := defaults[k]; !ok {
			errs = append(errs, fmt.Errorf("%s: unknown key", k))
		}
	}
	return errors.Join(errs...)
}

// splitList accepts both YAML lists and comma-separated strings.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// Validate reports every invalid key at once, each error naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (%s): %s", key, EnvVar(key), fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", "want host:port, got %q", c.HTTP.Addr)
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		bad("http.shutdown_timeout", "must be positive, got %s", c.HTTP.ShutdownTimeout)
	}
	if c.HTTP.DrainDelay < 0 {
		bad("http.drain_delay", "must not be negative, got %s", c.HTTP.DrainDelay)
	}
	if c.HTTP.MaxWait < time.Second {
		bad("http.max_wait", "must be at least 1s, got %s", c.HTTP.MaxWait)
	}
	if c.HTTP.RequestTimeout <= 0 {
		bad("http.request_timeout", "must be positive, got %s", c.HTTP.RequestTimeout)
	}
	if len(c.Kafka.Brokers) == 0 {
		bad("kafka.brokers", "at least one broker address is required")
	}
	for _, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("kafka.brokers", "want host:port, got %q", b)
		}
	}
	if c.Kafka.Topic == "" {
		bad("kafka.topic", "must not be empty")
	}
	if c.Kafka.Partitions < 1 {
		bad("kafka.partitions", "must be at least 1, got %d", c.Kafka.Partitions)
	}
	if c.Kafka.ReplicationFactor < 1 {
		bad("kafka.replication_factor", "must be at least 1, got %d", c.Kafka.ReplicationFactor)
	}
	if c.Kafka.DLQTopic == "" || c.Kafka.DLQTopic == c.Kafka.Topic {
		bad("kafka.dlq_topic", "must be set and differ from kafka.topic, got %q", c.Kafka.DLQTopic)
	}
	if c.Kafka.Group == "" {
		bad("kafka.group", "must not be empty")
	}
	if c.Kafka.BatchTimeout <= 0 || c.Kafka.BatchTimeout > time.Second {
		bad("kafka.batch_timeout", "must be in (0, 1s], got %s", c.Kafka.BatchTimeout)
	}
	if len(c.Redis.Addrs) == 0 {
		bad("redis.addr", "at least one address is required")
	}
	for _, a := range c.Redis.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("redis.addr", "want host:port, got %q", a)
		}
	}
	if c.Redis.DB < 0 {
		bad("redis.db", "must not be negative, got %d", c.Redis.DB)
	}
	if c.Result.TTL < time.Second {
		bad("result.ttl", "must be at least 1s, got %s", c.Result.TTL)
	}
	if c.Worker.Concurrency < 1 {
		bad("worker.concurrency", "must be at least 1, got %d", c.Worker.Concurrency)
	}
	if c.Worker.DrainTimeout < 0 {
		bad("worker.drain_timeout", "must not be negative, got %s", c.Worker.DrainTimeout)
	}
	if c.Worker.LeaseTTL < time.Second {
		bad("worker.lease_ttl", "must be at least 1s, got %s", c.Worker.LeaseTTL)
	}
	if c.Worker.Threads < 0 {
		bad("worker.threads", "must not be negative, got %d", c.Worker.Threads)
	}
	if c.Limits.MaxB < 1 || c.Limits.MaxB > primes.MaxN {
		bad("limits.max_b", "must be in [1, %d], got %d", primes.MaxN, c.Limits.MaxB)
	}
	if c.Limits.MaxBacklog < 0 {
		bad("limits.max_backlog", "must not be negative, got %d", c.Limits.MaxBacklog)
	}
	if c.Limits.MaxCost <= 0 {
		bad("limits.max_cost", "must be positive, got %s", c.Limits.MaxCost)
	}
	if c.RateLimit.SubmitRate <= 0 {
		bad("ratelimit.submit_rate", "must be positive, got %g", c.RateLimit.SubmitRate)
	}
	if c.RateLimit.PollRate <= 0 {
		bad("ratelimit.poll_rate", "must be positive, got %g", c.RateLimit.PollRate)
	}
	if c.RateLimit.SubmitBurst < 1 {
		bad("ratelimit.submit_burst", "must be at least 1, got %d", c.RateLimit.SubmitBurst)
	}
	if c.RateLimit.PollBurst < 1 {
		bad("ratelimit.poll_burst", "must be at least 1, got %d", c.RateLimit.PollBurst)
	}
	for _, p := range c.RateLimit.TrustedProxies {
		if _, err := parseCIDR(p); err != nil {
			bad("ratelimit.trusted_proxies", "want CIDRs or addresses, got %q", p)
		}
	}
	if c.Janitor.Interval < 10*time.Millisecond {
		bad("janitor.interval", "must be at least 10ms, got %s", c.Janitor.Interval)
	}
	if c.Janitor.StaleAfter <= 0 {
		bad("janitor.stale_after", "must be positive, got %s", c.Janitor.StaleAfter)
	}
	if c.Janitor.MaxAttempts < 1 {
		bad("janitor.max_attempts", "must be at least 1, got %d", c.Janitor.MaxAttempts)
	}
	for _, n := range c.Callbacks.AllowedNetworks {
		if _, err := parseCIDR(n); err != nil {
			bad("callbacks.allowed_networks", "want CIDRs or addresses, got %q", n)
		}
	}
	if c.Callbacks.Attempts < 1 {
		bad("callbacks.attempts", "must be at least 1, got %d", c.Callbacks.Attempts)
	}
	if c.Callbacks.Timeout <= 0 {
		bad("callbacks.timeout", "must be positive, got %s", c.Callbacks.Timeout)
	}
	if c.Metrics.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Addr); err != nil {
			bad("metrics.addr", "want host:port or empty (off), got %q", c.Metrics.Addr)
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}
