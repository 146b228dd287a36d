package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sumprimes/sumprimes/internal/testenv"
)

// TestWebPage drives the page at / in Debian's headless Chromium with
// playwright-core (scripts/browser, installed by scripts/test.sh), on an API
// with keys: a missing key is shown, then with the key: submit and see the
// exact sum, see an input error, cancel a long job. The screenshot lands in
// .cache/screenshots/page.png.
func TestWebPage(t *testing.T) {
	t.Parallel()
	script, _ := filepath.Abs("../scripts/browser/page.test.mjs")
	needs := map[string]string{
		"node":              "",
		"/usr/bin/chromium": "",
		"../scripts/browser/node_modules/playwright-core": "",
	}
	for what := range needs {
		_, err := exec.LookPath(what)
		if filepath.IsAbs(what) || what[0] == '.' {
			_, err = os.Stat(what)
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing under CI=true (scripts/browser/setup.sh installs it)", what)
			}
			t.Skipf("%s is missing: run scripts/browser/setup.sh", what)
		}
	}
	cfg := testenv.Config(t)
	cfg.Auth.Keys = "web:page-key" // the page must send it, to the event stream too
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	shots, _ := filepath.Abs("../.cache/screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(shots, "page.png")
	out, err := exec.Command("node", script, url+"/", shot, "page-key").CombinedOutput()
	if err != nil {
		t.Fatalf("browser test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
