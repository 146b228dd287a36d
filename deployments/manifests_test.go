// Package deployments checks the Kubernetes manifests: kustomize itself
// renders the base and the overlays, every resource decodes strictly (no
// unknown or mistyped field) into the upstream API types, KEDA's
// ScaledObject included, and the settings the service depends on hold. It is a module of its own so the service
// does not carry the Kubernetes libraries.
package deployments

import (
	"strings"
	"testing"

	keda "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

type manifests struct {
	deployments map[string]*appsv1.Deployment
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	scaled      []*keda.ScaledObject
	triggerAuth map[string]*keda.TriggerAuthentication
	kinds       map[string]int
}

// load renders the kustomization with kustomize and decodes every resource.
func load(t *testing.T) manifests {
	t.Helper()
	m, _ := render(t, "k8s")
	return m
}

func newManifests() manifests {
	return manifests{deployments: map[string]*appsv1.Deployment{}, kinds: map[string]int{}, triggerAuth: map[string]*keda.TriggerAuthentication{}}
}

// add decodes one document strictly into its upstream type.
func (m *manifests) add(t *testing.T, where string, doc []byte) {
	t.Helper()
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	m.kinds[head.APIVersion+"/"+head.Kind]++
	var obj any
	switch head.APIVersion + "/" + head.Kind {
	case "apps/v1/Deployment":
		d := &appsv1.Deployment{}
		obj, m.deployments[nameOf(t, doc)] = d, d
	case "v1/Service":
		obj = &corev1.Service{}
	case "v1/Namespace":
		obj = &corev1.Namespace{}
	case "v1/ConfigMap":
		c := &corev1.ConfigMap{}
		obj, m.configMaps = c, append(m.configMaps, c)
	case "v1/Secret":
		s := &corev1.Secret{}
		obj, m.secrets = s, append(m.secrets, s)
	case "autoscaling/v2/HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1/PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "keda.sh/v1alpha1/ScaledObject":
		s := &keda.ScaledObject{}
		obj, m.scaled = s, append(m.scaled, s)
	case "keda.sh/v1alpha1/TriggerAuthentication":
		a := &keda.TriggerAuthentication{}
		obj, m.triggerAuth[nameOf(t, doc)] = a, a
	default:
		t.Fatalf("%s: unexpected kind %s %s", where, head.APIVersion, head.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

func nameOf(t *testing.T, doc []byte) string {
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		t.Fatal(err)
	}
	return meta.Metadata.Name
}

func TestManifests(t *testing.T) {
	m := load(t)

	t.Run("HaveEveryPieceOfTheService", func(t *testing.T) {
		for _, kind := range []string{"apps/v1/Deployment", "v1/Service", "autoscaling/v2/HorizontalPodAutoscaler",
			"policy/v1/PodDisruptionBudget", "keda.sh/v1alpha1/ScaledObject", "v1/ConfigMap", "v1/Secret"} {
			if m.kinds[kind] == 0 {
				t.Errorf("no %s", kind)
			}
		}
		for _, role := range []string{"api", "worker", "janitor"} {
			d := m.deployments[role]
			if d == nil {
				t.Fatalf("no %s Deployment", role)
			}
			if args := d.Spec.Template.Spec.Containers[0].Args; len(args) != 1 || args[0] != role {
				t.Errorf("%s runs %v, want [%s]", role, args, role)
			}
		}
	})

	t.Run("HardenEveryContainer", func(t *testing.T) {
		for name, d := range m.deployments {
			pod := d.Spec.Template.Spec
			if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
				t.Errorf("%s: pod may run as root", name)
			}
			for _, c := range pod.Containers {
				sc := c.SecurityContext
				if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
					sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s/%s: want a read-only root and no privilege escalation", name, c.Name)
				}
				if c.LivenessProbe == nil || c.ReadinessProbe == nil {
					t.Errorf("%s/%s: liveness and readiness probes are required", name, c.Name)
				}
				if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
					t.Errorf("%s/%s: resource requests and limits are required", name, c.Name)
				}
			}
		}
	})
}

// TestManifestsScaling: the workers' shutdown, scaling and configuration.
func TestManifestsScaling(t *testing.T) {
	m := load(t)

	t.Run("GiveWorkersLongerThanTheirDrainDeadline", func(t *testing.T) {
		grace := m.deployments["worker"].Spec.Template.Spec.TerminationGracePeriodSeconds
		if grace == nil || *grace <= 10 {
			t.Fatalf("worker terminationGracePeriodSeconds = %v, want more than worker.drain_timeout (10s)", grace)
		}
	})

	t.Run("AuthenticateTheScalerFromTheServicesOwnSecret", func(t *testing.T) {
		tr := m.scaled[scaledFor(t, m, "worker")].Spec.Triggers[0]
		if tr.AuthenticationRef == nil || m.triggerAuth[tr.AuthenticationRef.Name] == nil {
			t.Fatalf("the kafka trigger's authenticationRef %v names no TriggerAuthentication", tr.AuthenticationRef)
		}
		secrets := map[string]map[string]string{}
		for _, s := range m.secrets {
			secrets[s.Name] = s.StringData
		}
		params := map[string]bool{}
		for _, ref := range m.triggerAuth[tr.AuthenticationRef.Name].Spec.SecretTargetRef {
			if _, ok := secrets[ref.Name][ref.Key]; !ok {
				t.Errorf("parameter %s reads %s/%s, which no Secret here holds", ref.Parameter, ref.Name, ref.Key)
			}
			params[ref.Parameter] = true
		}
		for _, p := range []string{"sasl", "username", "password", "tls"} {
			if !params[p] {
				t.Errorf("TriggerAuthentication sets no %s", p)
			}
		}
	})

	t.Run("ScaleWorkersOnLagUpToThePartitionCount", func(t *testing.T) {
		so := m.scaled[scaledFor(t, m, "worker")]
		if env := envOf(m.deployments["worker"]); env["SUMPRIMES_WORKER_LANES"] != "light" {
			t.Errorf("the lag-scaled worker consumes lanes %q, want light only", env["SUMPRIMES_WORKER_LANES"])
		}
		if so.Spec.ScaleTargetRef.Name != "worker" || so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount > 12 {
			t.Fatalf("ScaledObject targets %q with max %v; want the worker, at most 12 (the partitions)", so.Spec.ScaleTargetRef.Name, so.Spec.MaxReplicaCount)
		}
		tr := so.Spec.Triggers[0]
		want := map[string]string{"consumerGroup": "sumprimes-workers", "topic": "sumprimes.jobs", "offsetResetPolicy": "earliest"}
		for k, v := range want {
			if tr.Type != "kafka" || tr.Metadata[k] != v {
				t.Errorf("trigger %s %s = %q, want %q", tr.Type, k, tr.Metadata[k], v)
			}
		}
		for _, k := range []string{"lagThreshold", "activationLagThreshold", "bootstrapServers"} {
			if tr.Metadata[k] == "" {
				t.Errorf("trigger lacks %s", k)
			}
		}
	})
}

// TestManifestsHeavyLaneAndKeys: the heavy lane scales on work, and every\nvariable set is a configuration key.
func TestManifestsHeavyLaneAndKeys(t *testing.T) {
	m := load(t)

	t.Run("ScaleTheHeavyLaneOnItsBacklogsComputeTime", func(t *testing.T) {
		d := m.deployments["worker-heavy"]
		if d == nil || envOf(d)["SUMPRIMES_WORKER_LANES"] != "heavy,tasks" {
			t.Fatal("no worker-heavy Deployment consuming the heavy lane and the scattered jobs' tasks")
		}
		so := m.scaled[scaledFor(t, m, "worker-heavy")]
		if so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount > 12 {
			t.Errorf("worker-heavy scales to %v, want at most 12 (the partitions)", so.Spec.MaxReplicaCount)
		}
		tr := so.Spec.Triggers[0]
		if tr.Type != "prometheus" || !strings.Contains(tr.Metadata["query"], `sumprimes_backlog_compute_seconds{lane="heavy"}`) {
			t.Errorf("worker-heavy's trigger is %s %q, want prometheus on the heavy lane's backlog seconds", tr.Type, tr.Metadata["query"])
		}
		for _, k := range []string{"serverAddress", "threshold", "activationThreshold"} {
			if tr.Metadata[k] == "" {
				t.Errorf("worker-heavy's trigger lacks %s", k)
			}
		}
	})

	t.Run("SetOnlyRealConfigurationKeys", func(t *testing.T) { onlyRealKeys(t, m) })
}

// scaledFor returns the index of the ScaledObject that scales deployment.
func scaledFor(t *testing.T, m manifests, deployment string) int {
	t.Helper()
	for i, so := range m.scaled {
		if so.Spec.ScaleTargetRef.Name == deployment {
			return i
		}
	}
	t.Fatalf("no ScaledObject scales %s", deployment)
	return -1
}

// envOf returns the variables a deployment's first container sets itself.
func envOf(d *appsv1.Deployment) map[string]string {
	env := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	return env
}
