package deployments

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	keda "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
	"github.com/segmentio/kafka-go"
	v2 "k8s.io/api/autoscaling/v2"

	"github.com/sumprimes/sumprimes/internal/app"
	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/queue"
)

// TestKEDAScalesOnOurTriggers builds KEDA's own scalers (the version go.mod
// names, the one the manifests target) from every trigger of the rendered
// ScaledObjects, with the credentials their TriggerAuthentication resolves
// from the rendered Secret, and points them at the real services: the light
// lane's Kafka lag trigger at the broker (plaintext for the base, SASL_SSL
// with SCRAM and TLS for the prod overlay), the heavy lane's Prometheus
// trigger at a real Prometheus scraping the API. With no worker running,
// accepted jobs make every trigger active and the HPA's replica count
// stays within maxReplicaCount; once workers run, every trigger goes back
// to zero and inactive.
func TestKEDAScalesOnOurTriggers(t *testing.T) {
	for _, dir := range []string{"k8s", "overlays/prod"} {
		t.Run(dir, func(t *testing.T) {
			m, _ := render(t, dir)
			cfg := serviceConfig(t, secretData(m))
			url := startRole(t, cfg, app.API)
			prom := startPrometheus(t, strings.TrimPrefix(url, "http://"))

			triggers := scalersFor(t, m, cfg, prom)
			for _, tr := range triggers {
				if v, active := tr.read(t); v != 0 || active {
					t.Fatalf("%s before any job: value %v, active %v; want 0, inactive", tr, v, active)
				}
			}
			const light, heavy = 40, 12
			for i := range light {
				post(t, url, fmt.Sprintf(`{"a":1,"b":%d}`, 1000+i))
			}
			for i := range heavy { // some 150 ms each by the planner's estimate: the heavy lane
				post(t, url, fmt.Sprintf(`{"a":%d,"b":%d}`, uint64(1e12)+uint64(i), uint64(1e12)+uint64(i)+1e9))
			}
			for _, tr := range triggers {
				tr.await(t, "accepted jobs and no worker", func(v float64, active bool) bool { return active && v > 1 })
				if tr.kind == "kafka" && tr.value != light {
					t.Errorf("%s: lag %v, want the %d light jobs accepted", tr, tr.value, light)
				}
				if n := tr.replicas(); n < 1 || n > tr.max {
					t.Errorf("%s: value %v over target %v gives %d replicas, want 1..maxReplicaCount %d", tr, tr.value, tr.target, n, tr.max)
				}
				t.Logf("%s with no worker: value %v, active, %d replica(s) of at most %d", tr, tr.value, tr.replicas(), tr.max)
			}

			startRole(t, cfg, app.Worker)
			for _, tr := range triggers {
				tr.await(t, "workers draining the backlog", func(v float64, active bool) bool { return !active && v == 0 })
				t.Logf("%s after the workers drained it: value 0, inactive", tr)
			}
		})
	}
}

// trigger is one KEDA scaler built from one trigger of a ScaledObject.
type trigger struct {
	kind, object  string
	scaler        scalers.Scaler
	metric        string
	target, value float64
	max           int
}

func (tr *trigger) String() string { return tr.object + "/" + tr.kind }

// read asks the scaler as KEDA's operator does every pollingInterval.
func (tr *trigger) read(t *testing.T) (float64, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	values, active, err := tr.scaler.GetMetricsAndActivity(ctx, tr.metric)
	if err != nil {
		t.Fatalf("%s: %v", tr, err)
	}
	if len(values) != 1 {
		t.Fatalf("%s: %d metric values, want 1", tr, len(values))
	}
	tr.value = values[0].Value.AsApproximateFloat64()
	return tr.value, active
}

func (tr *trigger) await(t *testing.T, what string, ok func(float64, bool) bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v, active := tr.read(t)
		if ok(v, active) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s: value %v, active %v", tr, what, v, active)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// replicas is the HPA's formula for an external metric with an
// AverageValue target: the metric over the target, rounded up.
func (tr *trigger) replicas() int { return int(math.Ceil(tr.value / tr.target)) }

// scalersFor builds a KEDA scaler for every trigger of every ScaledObject,
// aimed at the test's own topic, group and Prometheus; everything else is
// the manifests' own.
func scalersFor(t *testing.T, m manifests, cfg config.Config, prom string) []*trigger {
	t.Helper()
	var out []*trigger
	for _, so := range m.scaled {
		for i, trg := range so.Spec.Triggers {
			md := map[string]string{}
			for k, v := range trg.Metadata {
				md[k] = v
			}
			sc := &scalersconfig.ScalerConfig{
				ScalableObjectName: so.Name, ScalableObjectNamespace: "sumprimes", ScalableObjectType: "ScaledObject",
				TriggerType: trg.Type, TriggerIndex: i, TriggerMetadata: md, GlobalHTTPTimeout: 5 * time.Second,
				AuthParams: authParams(t, m, trg.AuthenticationRef, cfg), MetricType: v2.AverageValueMetricType,
			}
			var s scalers.Scaler
			var err error
			switch trg.Type {
			case "kafka":
				topic, group := laneQueue(t, so.Name, cfg)
				if md["topic"] != topic.want || md["consumerGroup"] != group.want {
					t.Fatalf("%s reads topic %q and group %q; the %s workers use %q and %q",
						so.Name, md["topic"], md["consumerGroup"], so.Name, topic.want, group.want)
				}
				md["bootstrapServers"], md["topic"], md["consumerGroup"] = strings.Join(cfg.Kafka.Brokers, ","), topic.test, group.test
				s, err = scalers.NewKafkaScaler(context.Background(), sc)
			case "prometheus":
				md["serverAddress"] = prom
				s, err = scalers.NewPrometheusScaler(sc)
			default:
				t.Fatalf("%s: trigger type %q has no check here", so.Name, trg.Type)
			}
			if err != nil {
				t.Fatalf("%s: KEDA's %s scaler refuses the trigger: %v", so.Name, trg.Type, err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			spec := s.GetMetricSpecForScaling(context.Background())
			if len(spec) != 1 || spec[0].External == nil || spec[0].External.Target.AverageValue == nil {
				t.Fatalf("%s: metric spec %+v, want one external metric with an AverageValue target", so.Name, spec)
			}
			out = append(out, &trigger{kind: trg.Type, object: so.Name, scaler: s, metric: spec[0].External.Metric.Name,
				target: spec[0].External.Target.AverageValue.AsApproximateFloat64(), max: int(*so.Spec.MaxReplicaCount)})
		}
	}
	return out
}

type name struct{ want, test string }

// laneQueue returns the topic and group of the lane a ScaledObject scales:
// the configuration's defaults, which the manifests must name, and the
// test's own.
func laneQueue(t *testing.T, object string, cfg config.Config) (topic, group name) {
	def, err := config.Load(config.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if object == "worker-heavy" {
		return name{def.Kafka.HeavyTopic, cfg.Kafka.HeavyTopic}, name{def.Kafka.HeavyGroup, cfg.Kafka.HeavyGroup}
	}
	return name{def.Kafka.Topic, cfg.Kafka.Topic}, name{def.Kafka.Group, cfg.Kafka.Group}
}

// authParams resolves a TriggerAuthentication's secretTargetRefs as KEDA's
// operator does, from the rendered Secrets. The sign-in the Secret leaves
// for the operator to fill (user, password, CA) is the test broker's.
func authParams(t *testing.T, m manifests, ref *keda.AuthenticationRef, cfg config.Config) map[string]string {
	t.Helper()
	params := map[string]string{}
	if ref == nil {
		return params
	}
	ta := m.triggerAuth[ref.Name]
	if ta == nil {
		t.Fatalf("no TriggerAuthentication %q", ref.Name)
	}
	data := secretData(m)
	if cfg.Kafka.SASL.Mechanism != "" {
		data["SUMPRIMES_KAFKA_SASL_USERNAME"], data["SUMPRIMES_KAFKA_SASL_PASSWORD"] = cfg.Kafka.SASL.Username, string(cfg.Kafka.SASL.Password)
		ca, err := os.ReadFile(cfg.Kafka.TLS.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		data["KEDA_KAFKA_CA"] = string(ca)
	}
	for _, r := range ta.Spec.SecretTargetRef {
		v, ok := data[r.Key]
		if !ok {
			t.Fatalf("TriggerAuthentication %s: parameter %s names key %s, which no Secret has", ref.Name, r.Parameter, r.Key)
		}
		params[r.Parameter] = v
	}
	return params
}

// secretData is every key of the rendered Secrets.
func secretData(m manifests) map[string]string {
	data := map[string]string{}
	for _, s := range m.secrets {
		for k, v := range s.StringData {
			data[k] = v
		}
	}
	return data
}

// serviceConfig is the service's configuration on the test services, on
// the broker's SASL_SSL listener with the Secret's mechanism when the
// overlay turns Kafka's TLS on.
func serviceConfig(t *testing.T, secret map[string]string) config.Config {
	cfg := testenv.Config(t)
	cfg.RateLimit.Enabled, cfg.Metrics.Addr = false, ""
	if mech := secret["SUMPRIMES_KAFKA_SASL_MECHANISM"]; mech != "" {
		testenv.OnKafkaSASL(t, &cfg, mech)
	}
	return cfg
}

// startRole runs a role through the module map until the test ends and
// returns the API's URL when it is the API.
func startRole(t *testing.T, cfg config.Config, role app.Module) string {
	t.Helper()
	var ln net.Listener
	url := ""
	if role == app.API {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		url = "http://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, app.Options{Config: cfg, Log: testenv.Logger(t), Listener: ln}, role) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%v stopped with %v", role, err)
		}
	})
	if url != "" {
		testenv.Eventually(t, 60*time.Second, url+"/readyz", func() bool { return status(url+"/readyz", "") == http.StatusOK })
	}
	return url
}

func post(t *testing.T, url, body string) {
	t.Helper()
	if s := status(url+"/sumPrime", body); s != http.StatusAccepted {
		t.Fatalf("POST %s: status %d, want 202", body, s)
	}
}

func status(url, body string) int {
	var resp *http.Response
	var err error
	if body == "" {
		resp, err = http.Get(url)
	} else {
		resp, err = http.Post(url, "application/json", strings.NewReader(body))
	}
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startPrometheus runs a real Prometheus (Debian's package; make test
// installs it) scraping the API's /metrics every second, and returns its
// address.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no prometheus binary under CI=true (make test installs Debian's prometheus)")
		}
		t.Skip("no prometheus binary: apt-get install prometheus, or run make test")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	scrape := fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: sumprimes\n    static_configs: [{targets: [%q]}]\n", target)
	if err := os.WriteFile(conf, []byte(scrape), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	testenv.Eventually(t, 30*time.Second, "Prometheus ready", func() bool { return status(url+"/-/ready", "") == http.StatusOK })
	return url
}

// TestKEDAKafkaLagStopsAtThePartitions: the light lane's trigger sets
// allowIdleConsumers false, so however deep the backlog, KEDA's lag metric
// stops at partitions × lagThreshold and the HPA never asks for more
// workers than the topic has partitions (extra members would idle).
func TestKEDAKafkaLagStopsAtThePartitions(t *testing.T) {
	m, _ := render(t, "k8s")
	cfg := serviceConfig(t, secretData(m))
	q := testenv.Queue(t)
	k := queue.New(q, testenv.Logger(t))
	defer k.Close()
	if err := k.EnsureTopic(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Topic, cfg.Kafka.Group = q.Topic, q.Group
	var lag *trigger
	for _, tr := range scalersFor(t, m, cfg, "http://127.0.0.1:9") { // Prometheus is not asked here
		if tr.kind == "kafka" {
			lag = tr
		}
	}
	w := &kafka.Writer{Addr: kafka.TCP(q.Brokers...), Topic: q.Topic, Balancer: &kafka.RoundRobin{}, BatchSize: 1000, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	// Twice the cap: KEDA caps only once lag ÷ lagThreshold, rounded down,
	// passes the partitions, so a lag just above the cap goes through (and
	// maxReplicaCount, the partitions' count, is what bounds the HPA then).
	msgs := make([]kafka.Message, 2*q.Partitions*int(lag.target)) // no worker reads them
	for i := range msgs {
		msgs[i].Value = []byte("{}")
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	lag.await(t, "a backlog deeper than the partitions hold workers for", func(v float64, active bool) bool { return active && v > 0 })
	if want := float64(q.Partitions) * lag.target; lag.value != want {
		t.Errorf("lag metric %v with %d messages waiting, want the cap %d partitions × %v", lag.value, len(msgs), q.Partitions, lag.target)
	}
	if n := lag.replicas(); n != q.Partitions || n > lag.max {
		t.Errorf("%d replicas, want %d (the partitions), within maxReplicaCount %d", n, q.Partitions, lag.max)
	}
	t.Logf("%d messages waiting on %d partitions: lag metric %v, %d replicas of at most %d", len(msgs), q.Partitions, lag.value, lag.replicas(), lag.max)
}
