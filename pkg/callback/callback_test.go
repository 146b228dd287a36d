package callback_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/callback"
	"github.com/sumprimes/sumprimes/pkg/job"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func loopback() []*net.IPNet {
	_, n, _ := net.ParseCIDR("127.0.0.0/8")
	return []*net.IPNet{n}
}

func TestSignatures(t *testing.T) {
	sig := callback.Sign([]byte("k"), "1700000000", []byte(`{"a":1}`))
	if !callback.Verify([]byte("k"), "1700000000", []byte(`{"a":1}`), sig) {
		t.Fatal("a signature does not verify")
	}
	for _, bad := range [][3]string{{"other", "1700000000", `{"a":1}`}, {"k", "1700000001", `{"a":1}`}, {"k", "1700000000", `{"a":2}`}} {
		if callback.Verify([]byte(bad[0]), bad[1], []byte(bad[2]), sig) {
			t.Errorf("signature verifies with %v", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	s := callback.New(callback.Config{Secret: "k", Attempts: 1, Timeout: time.Second, Log: discard})
	for _, u := range []string{"ftp://example.com/x", "/relative", "http://user:pw@example.com/", "http://127.0.0.1/hook",
		"http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://0.0.0.0/"} {
		if err := s.Check(u); err == nil {
			t.Errorf("Check(%q) accepted", u)
		}
	}
	if err := s.Check("https://hooks.example.com/sumprimes"); err != nil {
		t.Errorf("Check of a public URL: %v", err)
	}
	if err := (callback.New(callback.Config{Secret: "k", Allowed: loopback(), Timeout: time.Second, Log: discard})).Check("http://127.0.0.1:9/x"); err != nil {
		t.Errorf("Check of an allowed network: %v", err)
	}
	var off *callback.Sender
	if err := off.Check("https://hooks.example.com/"); err == nil {
		t.Error("a Sender without a secret accepted a callback")
	}
}

func TestSend(t *testing.T) {
	t.Run("DeliversSignedAndRetries", func(t *testing.T) {
		var calls atomic.Int32
		got := make(chan bool, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) < 3 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			body, _ := io.ReadAll(r.Body)
			got <- callback.Verify([]byte("k"), r.Header.Get(callback.TimestampHeader), body, r.Header.Get(callback.SignatureHeader))
		}))
		defer srv.Close()
		s := callback.New(callback.Config{Secret: "k", Allowed: loopback(), Attempts: 5, Timeout: time.Second, Log: discard})
		s.Send(job.Record{Job: job.Job{RequestID: "r", CallbackURL: srv.URL}, Status: job.Finished})
		if ok := <-got; !ok || calls.Load() != 3 {
			t.Fatalf("verified %v after %d calls, want a valid signature on the third", ok, calls.Load())
		}
	})

	t.Run("RefusesToDialLoopbackUnlessAllowed", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
		defer srv.Close()
		s := callback.New(callback.Config{Secret: "k", Attempts: 1, Timeout: time.Second, Log: discard})
		// localhost is a name: it passes Check and is refused when dialled.
		url := "http://localhost:" + srv.URL[len("http://127.0.0.1:"):]
		if err := s.Check(url); err != nil {
			t.Fatalf("Check(%q) = %v", url, err)
		}
		err := s.Deliver(job.Record{Job: job.Job{RequestID: "r", CallbackURL: url}, Status: job.Finished})
		if err == nil || !strings.Contains(err.Error(), "refusing to connect") || calls.Load() != 0 {
			t.Fatalf("Deliver to loopback = %v after %d calls; want it refused before connecting", err, calls.Load())
		}
	})
}
