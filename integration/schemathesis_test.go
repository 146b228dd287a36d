package integration

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
)

// TestSchemathesis runs schemathesis (PyPI; scripts/test.sh installs it)
// against the API's own OpenAPI document, on the real Kafka and Redis:
// generated requests, valid and not, must get documented answers that
// match the schemas. The check that every schema-valid request is accepted
// is left out: a schema cannot say that a ≤ b or that a range is too
// costly, which the API rightly refuses with 400. So is the check that a
// DELETEd resource is gone: DELETE cancels a job, and its CANCELLED record
// stays readable for the result TTL, as asynchronous request-reply has it.
func TestSchemathesis(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("st"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("schemathesis (st) is missing under CI=true: pip install schemathesis")
		}
		t.Skip("schemathesis (st) is missing: pip install schemathesis")
	}
	cfg := testenv.Config(t)
	cfg.Callbacks.Secret = "schemathesis" // so that callbackUrl is a feature, not a 400
	cfg.HTTP.MaxWait = time.Second        // generated long-polls would each hold a minute
	cfg.Limits.MaxB = 1e9                 // and event streams would follow seconds-long jobs
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	cmd := exec.Command("st", "--config-file", "schemathesis.toml", "run", url+"/openapi.yaml", "--url", url,
		"--checks", "all", "--exclude-checks", "positive_data_acceptance,use_after_free",
		"--max-examples", "15", "--seed", "1", "--no-color")
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_TELEMETRY=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("schemathesis found problems: %v\n%s", err, out)
	}
}
