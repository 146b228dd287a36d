// Package config loads the service's configuration: built-in defaults, then a
// YAML file (--config), then SUMPRIMES_* environment variables, then flags,
// each overriding the one before. Every role reads the same keys.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/sumprimes/sumprimes/pkg/job"
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
	Lanes     Lanes     `mapstructure:"lanes"`
	Scatter   Scatter   `mapstructure:"scatter"`
	Log       Log       `mapstructure:"log"`
	RateLimit RateLimit `mapstructure:"ratelimit"`
	Janitor   Janitor   `mapstructure:"janitor"`
	Callbacks Callbacks `mapstructure:"callbacks"`
	Metrics   Metrics   `mapstructure:"metrics"`
	Tracing   Tracing   `mapstructure:"tracing"`
	Auth      Auth      `mapstructure:"auth"`
}

// Tracing configures OpenTelemetry tracing; without an endpoint it is off.
type Tracing struct {
	// Endpoint is the OTLP/HTTP collector's base URL, such as
	// http://otel-collector:4318 (spans go to its /v1/traces).
	Endpoint string `mapstructure:"otlp_endpoint"`
	// SampleRatio is the share of new traces kept; a trace begun upstream
	// keeps its own decision.
	SampleRatio float64 `mapstructure:"sample_ratio"`
}

// Auth configures the API keys clients authenticate with. With none, the
// API is open (and says so in its log at start).
type Auth struct {
	// Keys are "name:key" pairs, comma-separated; several keys may share a
	// name, so a key can be rotated without downtime.
	Keys Secret `mapstructure:"keys"`
	// KeysFile holds more pairs, one a line (a mounted Kubernetes Secret);
	// blank lines and lines starting with # are skipped.
	KeysFile string `mapstructure:"keys_file"`
	// Admins names the key holders (by name) who see every client's jobs,
	// to list and read them, as an operator does.
	Admins []string `mapstructure:"admins"`
}

// APIKey is one key and the name of the client that holds it.
type APIKey struct {
	Name, Key string
}

// APIKeys returns every configured key: those in Keys, then those in
// KeysFile. Validate has checked that they parse.
func (a Auth) APIKeys() ([]APIKey, error) {
	lines := strings.Split(string(a.Keys), ",")
	if a.KeysFile != "" {
		data, err := os.ReadFile(a.KeysFile)
		if err != nil {
			return nil, err
		}
		lines = append(lines, strings.Split(string(data), "\n")...)
	}
	var keys []APIKey
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, key, ok := strings.Cut(line, ":")
		name, key = strings.TrimSpace(name), strings.TrimSpace(key)
		if !ok || name == "" || key == "" {
			return nil, fmt.Errorf("entry %d is not name:key", i+1) // never the entry: it holds a key
		}
		keys = append(keys, APIKey{Name: name, Key: key})
	}
	return keys, nil
}

// Metrics configures the ops listener: where every role serves /metrics,
// /healthz, /readyz and /debug/pprof/, apart from the API's public port.
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
	// CORSOrigins may call the API from a browser; empty sends no CORS
	// headers at all.
	CORSOrigins []string `mapstructure:"cors_origins"`
	// ReadTimeout bounds reading one whole request (its body is at most
	// 1 KB); IdleTimeout closes a kept-alive connection that sends nothing.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// PublicMetrics serves /metrics on the API's own port too, as before
	// the ops listener (metrics.addr) served it for every role.
	PublicMetrics bool `mapstructure:"public_metrics"`
}

// Kafka configures the job queue.
type Kafka struct {
	TLS               TLS      `mapstructure:"tls"`
	SASL              SASL     `mapstructure:"sasl"`
	Brokers           []string `mapstructure:"brokers"`
	Topic             string   `mapstructure:"topic"`
	Partitions        int      `mapstructure:"partitions"`
	ReplicationFactor int      `mapstructure:"replication_factor"`
	Group             string   `mapstructure:"group"`
	DLQTopic          string   `mapstructure:"dlq_topic"`
	// HeavyTopic and HeavyGroup carry the heavy lane's jobs (see Lanes).
	HeavyTopic string `mapstructure:"heavy_topic"`
	HeavyGroup string `mapstructure:"heavy_group"`
	// TaskTopic and TaskGroup carry the tasks scattered jobs are cut into
	// (see Scatter).
	TaskTopic string `mapstructure:"task_topic"`
	TaskGroup string `mapstructure:"task_group"`
	// BatchTimeout is how long a dead letter may wait to share a batch;
	// jobs are published at once, in batches of what arrived meanwhile.
	BatchTimeout time.Duration `mapstructure:"batch_timeout"`
}

// Lanes configures the cost lanes: a job the planner expects to take at
// least HeavyFrom goes to the heavy lane (its own topic, consumer group
// and workers), so that it can never hold up a light job. 0 sends every
// job to the light lane.
type Lanes struct {
	HeavyFrom time.Duration `mapstructure:"heavy_from"`
}

// Scatter configures scatter/gather: a job the planner expects to take at
// least Threshold on one core is cut into tasks of about TaskCost each,
// which any worker takes from the task topic; the last one to finish adds
// up the parts. A Threshold of 0 computes every job whole.
type Scatter struct {
	Threshold time.Duration `mapstructure:"threshold"`
	TaskCost  time.Duration `mapstructure:"task_cost"`
}

func (c Scatter) validate(p *problems) {
	if c.Threshold < 0 {
		p.bad("scatter.threshold", "must not be negative, got %s", c.Threshold)
	}
	if c.TaskCost < time.Millisecond {
		p.bad("scatter.task_cost", "must be at least 1ms, got %s", c.TaskCost)
	}
}

// Redis configures the result store. One address is a single node; several
// are a Cluster; a MasterName makes them Sentinels.
type Redis struct {
	Addrs            []string `mapstructure:"addr"`
	MasterName       string   `mapstructure:"master_name"`
	Username         string   `mapstructure:"username"`
	Password         Secret   `mapstructure:"password"`
	SentinelPassword Secret   `mapstructure:"sentinel_password"`
	DB               int      `mapstructure:"db"`
	KeyPrefix        string   `mapstructure:"key_prefix"`
	TLS              TLS      `mapstructure:"tls"`
	// WaitReplicas is how many replicas must hold a new job's record
	// before the API accepts the job (Redis WAIT): with Sentinel, 1, so
	// that a failover cannot lose an accepted job.
	WaitReplicas int `mapstructure:"wait_replicas"`
}

// TLS configures an encrypted connection: the server's certificate is
// checked against CAFile (the system's roots when empty) and ServerName
// (the address's host when empty); CertFile and KeyFile, together, make it
// mutual.
type TLS struct {
	Enabled    bool   `mapstructure:"enabled"`
	CAFile     string `mapstructure:"ca_file"`
	CertFile   string `mapstructure:"cert_file"`
	KeyFile    string `mapstructure:"key_file"`
	ServerName string `mapstructure:"server_name"`
}

// Config loads the files into a tls.Config; nil when TLS is off.
func (t TLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("cert_file and key_file go together")
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// SASL configures how the service signs in to Kafka: PLAIN,
// SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL). Use it over TLS.
type SASL struct {
	Mechanism string `mapstructure:"mechanism"`
	Username  string `mapstructure:"username"`
	Password  Secret `mapstructure:"password"`
}

// Result configures how long results stay readable.
type Result struct {
	TTL time.Duration `mapstructure:"ttl"`
}

// Worker configures the consumers.
type Worker struct {
	// Lanes lists the lanes this process consumes ("light", "heavy", and
	// "tasks", scattered jobs' tasks), one consumer-group member each.
	Lanes []string `mapstructure:"lanes"`
	// Concurrency is how many heavy jobs one worker process computes at
	// once; LightConcurrency how many light ones (0: four per CPU).
	Concurrency      int `mapstructure:"concurrency"`
	LightConcurrency int `mapstructure:"light_concurrency"`
	// Threads is how many goroutines one heavy job's engine uses; 0 means
	// GOMAXPROCS divided by Concurrency, at least 1. Light jobs use one.
	Threads int `mapstructure:"threads"`
	// LightFirst gives light jobs the CPUs first: heavy jobs' threads run at
	// the OS's idle priority and pause while a light job is in the process.
	LightFirst bool `mapstructure:"light_first"`
	// Prefetch is how many messages a lane reads ahead of its oldest
	// unfinished one.
	Prefetch int `mapstructure:"prefetch"`
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
	"http.cors_origins":          []string{},
	"http.read_timeout":          "10s",
	"http.idle_timeout":          "60s",
	"http.public_metrics":        false,
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
	"redis.sentinel_password":    "",
	"redis.wait_replicas":        0,
	"redis.tls.enabled":          false,
	"redis.tls.ca_file":          "",
	"redis.tls.cert_file":        "",
	"redis.tls.key_file":         "",
	"redis.tls.server_name":      "",
	"kafka.tls.enabled":          false,
	"kafka.tls.ca_file":          "",
	"kafka.tls.cert_file":        "",
	"kafka.tls.key_file":         "",
	"kafka.tls.server_name":      "",
	"kafka.sasl.mechanism":       "",
	"kafka.sasl.username":        "",
	"kafka.sasl.password":        "",
	"redis.db":                   0,
	"redis.key_prefix":           "sumprimes:",
	"result.ttl":                 "3m",
	"worker.lanes":               []string{"light", "heavy", "tasks"},
	"worker.concurrency":         2,
	"worker.light_concurrency":   0,
	"worker.prefetch":            256,
	"lanes.heavy_from":           "100ms",
	"kafka.heavy_topic":          "sumprimes.jobs.heavy",
	"kafka.heavy_group":          "sumprimes-workers-heavy",
	"kafka.task_topic":           "sumprimes.tasks",
	"kafka.task_group":           "sumprimes-workers-tasks",
	"scatter.threshold":          "10s",
	"scatter.task_cost":          "1s",
	"worker.threads":             0,
	"worker.light_first":         true,
	"worker.drain_timeout":       "10s",
	"worker.lease_ttl":           "15s",
	"limits.max_b":               uint64(math.MaxUint64),
	"limits.max_backlog":         100000,
	"limits.max_cost":            "60s",
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
	"tracing.otlp_endpoint":      "",
	"tracing.sample_ratio":       1.0,
	"log.level":                  "info",
	"log.format":                 "text",
	"auth.keys":                  "",
	"auth.keys_file":             "",
	"auth.admins":                []string{},
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
	// A variable set to nothing means an empty value (SUMPRIMES_METRICS_ADDR=
	// turns the ops listener off), not the default.
	v.AllowEmptyEnv(true)
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
	c.HTTP.CORSOrigins = splitList(c.HTTP.CORSOrigins)
	c.Callbacks.AllowedNetworks = splitList(c.Callbacks.AllowedNetworks)
	c.Auth.Admins = splitList(c.Auth.Admins)
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

// Validate reports every invalid key at once, each error naming its key;
// each section checks its own keys.
func (c Config) Validate() error {
	var p problems
	c.HTTP.validate(&p)
	c.Kafka.validate(&p)
	c.Redis.validate(&p)
	c.Result.validate(&p)
	c.Worker.validate(&p)
	c.Limits.validate(&p)
	c.Lanes.validate(&p)
	c.Scatter.validate(&p)
	c.RateLimit.validate(&p)
	c.Janitor.validate(&p)
	c.Callbacks.validate(&p)
	c.Metrics.validate(&p)
	c.Tracing.validate(&p)
	c.Log.validate(&p)
	c.Auth.validate(&p)
	return errors.Join(p...)
}

// problems collects what Validate finds.
type problems []error

// bad reports key as invalid, naming its environment variable too.
func (p *problems) bad(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s (%s): %s", key, EnvVar(key), fmt.Sprintf(format, args...)))
}

// hostPorts reports each of addrs that is not host:port.
func (p *problems) hostPorts(key string, addrs []string) {
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			p.bad(key, "want host:port, got %q", a)
		}
	}
}

// cidrs reports each of list that is neither a CIDR nor an address.
func (p *problems) cidrs(key string, list []string) {
	for _, s := range list {
		if _, err := parseCIDR(s); err != nil {
			p.bad(key, "want CIDRs or addresses, got %q", s)
		}
	}
}

func (c HTTP) validate(p *problems) {
	p.hostPorts("http.addr", []string{c.Addr})
	if c.ShutdownTimeout <= 0 {
		p.bad("http.shutdown_timeout", "must be positive, got %s", c.ShutdownTimeout)
	}
	if c.DrainDelay < 0 {
		p.bad("http.drain_delay", "must not be negative, got %s", c.DrainDelay)
	}
	if c.MaxWait < time.Second {
		p.bad("http.max_wait", "must be at least 1s, got %s", c.MaxWait)
	}
	if c.RequestTimeout <= 0 {
		p.bad("http.request_timeout", "must be positive, got %s", c.RequestTimeout)
	}
	if c.ReadTimeout <= 0 {
		p.bad("http.read_timeout", "must be positive, got %s", c.ReadTimeout)
	}
	if c.IdleTimeout <= 0 {
		p.bad("http.idle_timeout", "must be positive, got %s", c.IdleTimeout)
	}
}

func (c Kafka) validate(p *problems) {
	c.TLS.validate(p, "kafka")
	switch c.SASL.Mechanism {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASL.Username == "" {
			p.bad("kafka.sasl.username", "is required with kafka.sasl.mechanism %s", c.SASL.Mechanism)
		}
	default:
		p.bad("kafka.sasl.mechanism", "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", c.SASL.Mechanism)
	}
	if len(c.Brokers) == 0 {
		p.bad("kafka.brokers", "at least one broker address is required")
	}
	p.hostPorts("kafka.brokers", c.Brokers)
	if c.Topic == "" {
		p.bad("kafka.topic", "must not be empty")
	}
	if c.Partitions < 1 {
		p.bad("kafka.partitions", "must be at least 1, got %d", c.Partitions)
	}
	if c.ReplicationFactor < 1 {
		p.bad("kafka.replication_factor", "must be at least 1, got %d", c.ReplicationFactor)
	}
	if c.DLQTopic == "" || c.DLQTopic == c.Topic {
		p.bad("kafka.dlq_topic", "must be set and differ from kafka.topic, got %q", c.DLQTopic)
	}
	if c.Group == "" {
		p.bad("kafka.group", "must not be empty")
	}
	if c.HeavyTopic == "" || c.HeavyTopic == c.Topic || c.HeavyTopic == c.DLQTopic {
		p.bad("kafka.heavy_topic", "must be set and differ from kafka.topic and kafka.dlq_topic, got %q", c.HeavyTopic)
	}
	if c.HeavyGroup == "" || c.HeavyGroup == c.Group {
		p.bad("kafka.heavy_group", "must be set and differ from kafka.group, got %q", c.HeavyGroup)
	}
	if c.TaskTopic == "" || c.TaskTopic == c.Topic || c.TaskTopic == c.HeavyTopic || c.TaskTopic == c.DLQTopic {
		p.bad("kafka.task_topic", "must be set and differ from kafka.topic, kafka.heavy_topic and kafka.dlq_topic, got %q", c.TaskTopic)
	}
	if c.TaskGroup == "" || c.TaskGroup == c.Group || c.TaskGroup == c.HeavyGroup {
		p.bad("kafka.task_group", "must be set and differ from kafka.group and kafka.heavy_group, got %q", c.TaskGroup)
	}
	if c.BatchTimeout <= 0 || c.BatchTimeout > time.Second {
		p.bad("kafka.batch_timeout", "must be in (0, 1s], got %s", c.BatchTimeout)
	}
}

// validate reports the TLS files that do not load, under the section's keys.
func (t TLS) validate(p *problems, section string) {
	if _, err := t.Config(); err != nil {
		p.bad(section+".tls", "%v", err)
	}
}

func (c Redis) validate(p *problems) {
	c.TLS.validate(p, "redis")
	if len(c.Addrs) == 0 {
		p.bad("redis.addr", "at least one address is required")
	}
	p.hostPorts("redis.addr", c.Addrs)
	if c.DB < 0 {
		p.bad("redis.db", "must not be negative, got %d", c.DB)
	}
	if c.WaitReplicas < 0 {
		p.bad("redis.wait_replicas", "must not be negative, got %d", c.WaitReplicas)
	}
}

func (c Result) validate(p *problems) {
	if c.TTL < time.Second {
		p.bad("result.ttl", "must be at least 1s, got %s", c.TTL)
	}
}

func (c Worker) validate(p *problems) {
	if c.Concurrency < 1 {
		p.bad("worker.concurrency", "must be at least 1, got %d", c.Concurrency)
	}
	if c.DrainTimeout < 0 {
		p.bad("worker.drain_timeout", "must not be negative, got %s", c.DrainTimeout)
	}
	if c.LeaseTTL < time.Second {
		p.bad("worker.lease_ttl", "must be at least 1s, got %s", c.LeaseTTL)
	}
	if c.Threads < 0 {
		p.bad("worker.threads", "must not be negative, got %d", c.Threads)
	}
	if _, err := c.LaneList(); err != nil {
		p.bad("worker.lanes", "%v", err)
	}
	if c.LightConcurrency < 0 {
		p.bad("worker.light_concurrency", "must not be negative, got %d", c.LightConcurrency)
	}
	if c.Prefetch < 1 {
		p.bad("worker.prefetch", "must be at least 1, got %d", c.Prefetch)
	}
}

// LaneList reads Lanes: at least one, each light, heavy or tasks.
func (c Worker) LaneList() ([]job.Lane, error) {
	if len(c.Lanes) == 0 {
		return nil, errors.New("name at least one lane: light, heavy, tasks")
	}
	var lanes []job.Lane
	for _, name := range c.Lanes {
		lane, err := job.ParseLane(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(lanes, lane) {
			lanes = append(lanes, lane)
		}
	}
	return lanes, nil
}

func (c Lanes) validate(p *problems) {
	if c.HeavyFrom < 0 {
		p.bad("lanes.heavy_from", "must not be negative, got %s", c.HeavyFrom)
	}
}

func (c Limits) validate(p *problems) {
	if c.MaxB < 1 || c.MaxB > primes.MaxN {
		p.bad("limits.max_b", "must be in [1, %d], got %d", primes.MaxN, c.MaxB)
	}
	if c.MaxBacklog < 0 {
		p.bad("limits.max_backlog", "must not be negative, got %d", c.MaxBacklog)
	}
	if c.MaxCost <= 0 {
		p.bad("limits.max_cost", "must be positive, got %s", c.MaxCost)
	}
}

func (c RateLimit) validate(p *problems) {
	if c.SubmitRate <= 0 {
		p.bad("ratelimit.submit_rate", "must be positive, got %g", c.SubmitRate)
	}
	if c.PollRate <= 0 {
		p.bad("ratelimit.poll_rate", "must be positive, got %g", c.PollRate)
	}
	if c.SubmitBurst < 1 {
		p.bad("ratelimit.submit_burst", "must be at least 1, got %d", c.SubmitBurst)
	}
	if c.PollBurst < 1 {
		p.bad("ratelimit.poll_burst", "must be at least 1, got %d", c.PollBurst)
	}
	p.cidrs("ratelimit.trusted_proxies", c.TrustedProxies)
}

func (c Janitor) validate(p *problems) {
	if c.Interval < 10*time.Millisecond {
		p.bad("janitor.interval", "must be at least 10ms, got %s", c.Interval)
	}
	if c.StaleAfter <= 0 {
		p.bad("janitor.stale_after", "must be positive, got %s", c.StaleAfter)
	}
	if c.MaxAttempts < 1 {
		p.bad("janitor.max_attempts", "must be at least 1, got %d", c.MaxAttempts)
	}
}

func (c Callbacks) validate(p *problems) {
	p.cidrs("callbacks.allowed_networks", c.AllowedNetworks)
	if c.Attempts < 1 {
		p.bad("callbacks.attempts", "must be at least 1, got %d", c.Attempts)
	}
	if c.Timeout <= 0 {
		p.bad("callbacks.timeout", "must be positive, got %s", c.Timeout)
	}
}

func (c Metrics) validate(p *problems) {
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			p.bad("metrics.addr", "want host:port or empty (off), got %q", c.Addr)
		}
	}
}

func (c Tracing) validate(p *problems) {
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.bad("tracing.otlp_endpoint", "want an http(s) URL such as http://otel-collector:4318, or empty (off), got %q", c.Endpoint)
		}
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		p.bad("tracing.sample_ratio", "must be from 0 to 1, got %v", c.SampleRatio)
	}
}

func (c Auth) validate(p *problems) {
	if _, err := c.APIKeys(); err != nil {
		key := "auth.keys"
		if c.KeysFile != "" {
			key = "auth.keys / auth.keys_file"
		}
		p.bad(key, "%v", err)
	}
}

func (c Log) validate(p *problems) {
	switch strings.ToLower(c.Level) {
	case "debug", "info", "warn", "error":
	default:
		p.bad("log.level", "want debug, info, warn or error, got %q", c.Level)
	}
	switch c.Format {
	case "text", "json":
	default:
		p.bad("log.format", "want text or json, got %q", c.Format)
	}
}
