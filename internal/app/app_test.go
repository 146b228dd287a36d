package app

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// Every module's goroutines and connections must be gone once Run returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOrder(t *testing.T) {
	t.Parallel()
	for _, targets := range [][]Module{Dev, {API}, {Worker}, {Janitor}, {Worker, API}} {
		got := order(targets)
		at := map[Module]int{}
		for i, m := range got {
			if _, twice := at[m]; twice {
				t.Fatalf("order(%v) = %v: %s twice", targets, got, m)
			}
			at[m] = i
		}
		for _, m := range got {
			for _, d := range modules[m].deps {
				if at[d] > at[m] {
					t.Fatalf("order(%v) = %v: %s before its dependency %s", targets, got, m, d)
				}
			}
		}
		for _, m := range targets {
			if _, ok := at[m]; !ok {
				t.Fatalf("order(%v) = %v: target %s missing", targets, got, m)
			}
		}
	}
	if got := order(Dev); got[0] != Embedded {
		t.Fatalf("order(Dev) = %v: the embedded broker and store must come before the clients", got)
	}
}

func defaults(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Source{Defaults: map[string]any{"metrics.addr": ""}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRun(t *testing.T) {
	t.Run("RunsEveryRoleOverOneSetOfClientsAndStopsClean", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		started, done := make(chan struct{}), make(chan error, 1)
		opts := Options{Config: defaults(t), Log: testenv.Logger(t), Listener: ln, Started: func() { close(started) }}
		go func() { done <- Run(ctx, opts, Dev...) }()
		<-started
		// The API serves at once but is ready only once the topics exist.
		testenv.Eventually(t, 30*time.Second, "the API to be ready", func() bool {
			resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})

		url := "http://" + ln.Addr().String() + "/sumPrime"
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"a":1,"b":1000000}`))
		if err != nil {
			t.Fatal(err)
		}
		var rec job.Record
		_ = json.NewDecoder(resp.Body).Decode(&rec)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || rec.Plan.Engine == "" {
			t.Fatalf("POST = %d %+v, want 202 with the plan", resp.StatusCode, rec)
		}
		for !rec.Status.Final() { // long-polls: the API answers when the record changes
			resp, err := http.Get(url + "/" + rec.RequestID + "?wait=30s")
			if err != nil {
				t.Fatal(err)
			}
			_ = json.NewDecoder(resp.Body).Decode(&rec)
			resp.Body.Close()
		}
		if rec.Status != job.Finished || *rec.Payload != "37550402023" {
			t.Fatalf("record = %+v, want FINISHED 37550402023", rec)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v after a shutdown, want nil", err)
		}
	})

	t.Run("FailsNamingTheModuleAndStopsWhatStarted", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		cfg := defaults(t)
		cfg.Metrics.Addr = taken.Addr().String()
		err = Run(context.Background(), Options{Config: cfg, Log: testenv.Logger(t)}, Embedded, Worker)
		if err == nil || !strings.HasPrefix(err.Error(), "ops: metrics.addr:") {
			t.Fatalf("Run = %v, want the ops module's listen error", err)
		}
	})
}
