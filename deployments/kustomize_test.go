package deployments

import (
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/sumprimes/sumprimes/pkg/config"
)

// render runs kustomize itself on dir, as `kubectl apply -k` would, and
// decodes strictly every resource it renders.
func render(t *testing.T, dir string) (manifests, map[string]*autoscalingv2.HorizontalPodAutoscaler) {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m, hpas := newManifests(), map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	for _, r := range res.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		m.add(t, dir+": "+r.CurId().String(), doc)
		if r.GetNamespace() != "sumprimes" && r.GetKind() != "Namespace" {
			t.Errorf("%s: %s is in namespace %q, want sumprimes", dir, r.CurId(), r.GetNamespace())
		}
		if r.GetKind() == "HorizontalPodAutoscaler" {
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			if err := yaml.Unmarshal(doc, h); err != nil {
				t.Fatal(err)
			}
			hpas[r.GetName()] = h
		}
	}
	return m, hpas
}

// TestKustomizeRendersEveryOverlay: the base and the dev and prod overlays
// render with kustomize into the whole service, each with its settings,
// and only real configuration keys.
func TestKustomizeRendersEveryOverlay(t *testing.T) {
	for _, dir := range []string{"k8s", "overlays/dev", "overlays/prod"} {
		t.Run(dir, func(t *testing.T) {
			m, _ := render(t, dir)
			for _, d := range []string{"api", "worker", "worker-heavy", "janitor"} {
				if m.deployments[d] == nil {
					t.Errorf("no %s Deployment", d)
				}
			}
			if len(m.scaled) != 2 {
				t.Errorf("%d ScaledObjects, want the two lanes'", len(m.scaled))
			}
			onlyRealKeys(t, m)
		})
	}

	t.Run("DevIsSmall", func(t *testing.T) {
		m, hpas := render(t, "overlays/dev")
		for _, so := range m.scaled {
			if *so.Spec.MaxReplicaCount != 2 {
				t.Errorf("%s scales to %d, want 2", so.Name, *so.Spec.MaxReplicaCount)
			}
		}
		if *hpas["api"].Spec.MinReplicas != 1 || *m.deployments["janitor"].Spec.Replicas != 1 {
			t.Error("dev runs more than one API or janitor at rest")
		}
	})

	t.Run("ProdIsSecuredAndLarger", func(t *testing.T) {
		m, hpas := render(t, "overlays/prod")
		cm := m.configMaps[slices.IndexFunc(m.configMaps, func(c *corev1.ConfigMap) bool { return c.Name == "sumprimes" })].Data
		if cm["SUMPRIMES_KAFKA_TLS_ENABLED"] != "true" || cm["SUMPRIMES_REDIS_TLS_ENABLED"] != "true" {
			t.Errorf("prod ConfigMap %v: want Kafka and Redis over TLS", cm)
		}
		secret := m.secrets[slices.IndexFunc(m.secrets, func(s *corev1.Secret) bool { return s.Name == "sumprimes" })].StringData
		if secret["SUMPRIMES_KAFKA_SASL_MECHANISM"] != "SCRAM-SHA-512" || secret["KEDA_KAFKA_SASL"] != "scram_sha512" || secret["KEDA_KAFKA_TLS"] != "enable" {
			t.Errorf("prod Secret: want SCRAM-SHA-512 over TLS for the service and KEDA alike, got %v", secret)
		}
		if *hpas["api"].Spec.MinReplicas != 3 {
			t.Errorf("prod API minReplicas = %d, want 3", *hpas["api"].Spec.MinReplicas)
		}
	})
}

// onlyRealKeys fails for a SUMPRIMES_* variable that is no configuration key.
func onlyRealKeys(t *testing.T, m manifests) {
	t.Helper()
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[config.EnvVar(k)] = true
	}
	var names []string
	for _, c := range m.configMaps {
		for k := range c.Data {
			names = append(names, k)
		}
	}
	for _, s := range m.secrets {
		for k := range s.StringData {
			names = append(names, k)
		}
	}
	for _, d := range m.deployments {
		for k := range envOf(d) {
			names = append(names, k)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, config.EnvPrefix+"_") && !known[n] {
			t.Errorf("%s is no configuration key", n)
		}
	}
}
