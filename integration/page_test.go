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
	script := needBrowser(t, "page.test.mjs")
	cfg := testenv.Config(t)
	cfg.Auth.Keys = "web:page-key" // the page must send it, to the event stream too
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	shots := screenshots(t)
	out, err := exec.Command("node", script, url+"/", filepath.Join(shots, "page.png"), "page-key").CombinedOutput()
	if err != nil {
		t.Fatalf("browser test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestConsole drives the operator's console in Chromium
// (scripts/browser/console.test.mjs): with an admin's key, from the page
// alone, find a job that failed (a worker whose limit was below its range
// dead-lettered it), see why, replay it now that a worker with the API's
// limits runs, and see it finish; see the workers and the overview.
// Screenshots of each view land in .cache/screenshots/.
func TestConsole(t *testing.T) {
	t.Parallel()
	script := needBrowser(t, "console.test.mjs")
	cfg := testenv.Config(t)
	cfg.Auth.Keys, cfg.Auth.Admins = "ann:ann-key,ops:ops-key", []string{"ops"}
	url := startAPI(t, cfg)
	id := failedJob(t, cfg, url, "ann-key", 5000)
	startWorker(t, cfg)
	out, err := exec.Command("node", script, url+"/", screenshots(t), "ops-key", id, "1548136").CombinedOutput()
	if err != nil {
		t.Fatalf("console test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// needBrowser returns the path of the browser script name, once node,
// Debian's Chromium and playwright-core are there (scripts/browser/setup.sh
// installs them); under CI=true their absence fails the test.
func needBrowser(t *testing.T, name string) string {
	t.Helper()
	for _, what := range []string{"node", "/usr/bin/chromium", "../scripts/browser/node_modules/playwright-core"} {
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
	script, _ := filepath.Abs(filepath.Join("../scripts/browser", name))
	return script
}

// screenshots returns .cache/screenshots, made if need be.
func screenshots(t *testing.T) string {
	t.Helper()
	shots, _ := filepath.Abs("../.cache/screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return shots
}
