package deployments

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// TestAlertsAndDashboardUseOurMetrics parses every PromQL expression of the
// alerting rules and the Grafana dashboard with Prometheus's own parser,
// and checks each series it selects is one the service exports (the names
// in pkg/metrics), or Prometheus's own up. promtool checks and unit-tests
// the rules themselves in make test.
func TestAlertsAndDashboardUseOurMetrics(t *testing.T) {
	src, err := os.ReadFile("../pkg/metrics/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{"up": true}
	for _, m := range regexp.MustCompile(`(?:Name: |NewDesc\()"(sumprimes_\w+)"`).FindAllStringSubmatch(string(src), -1) {
		ours[m[1]] = true
	}
	exprs := map[string]string{}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	read(t, "prometheus/alerts.yaml", &rules, func(b []byte, v any) error { return yaml.Unmarshal(b, v) })
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	read(t, "grafana/sumprimes.json", &dash, json.Unmarshal)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs["panel "+p.Title+": "+tg.Expr] = tg.Expr
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("%d expressions read, want the rules' and the panels'", len(exprs))
	}
	for where, e := range exprs {
		expr, err := parser.ParseExpr(e)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		for _, sel := range parser.ExtractSelectors(expr) {
			for _, m := range sel {
				if m.Name != "__name__" {
					continue
				}
				name := m.Value
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base := strings.TrimSuffix(name, suffix); base != name && ours[base] {
						name = base
					}
				}
				if !ours[name] {
					t.Errorf("%s: selects %s, which the service does not export", where, m.Value)
				}
			}
		}
	}
}

// read decodes the file at path into v with unmarshal (YAML or JSON).
func read(t *testing.T, path string, v any, unmarshal func([]byte, any) error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err == nil {
		err = unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
