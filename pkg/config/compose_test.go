package config_test

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sumprimes/sumprimes/pkg/config"
)

// TestComposeSetsOnlyRealKeys keeps the compose files honest: every
// SUMPRIMES_* variable they set must be one the binary reads.
func TestComposeSetsOnlyRealKeys(t *testing.T) {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[config.EnvVar(k)] = true
	}
	for _, file := range []string{"docker-compose.yml", "docker-compose.secured.yml"} {
		data, err := os.ReadFile("../../" + file)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		seen := 0
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if name := n.Content[i].Value; strings.HasPrefix(name, config.EnvPrefix+"_") {
						seen++
						if !known[name] {
							t.Errorf("%s sets %s, which is no configuration key", file, name)
						}
					}
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&doc)
		if seen == 0 {
			t.Fatalf("found no SUMPRIMES_ variables in %s", file)
		}
	}
}
