package cli

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The inline transport keeps its connection across requests, drops one
// the server closes or a cancelled request leaves mid-answer, and goes on
// working after either.
func TestInlineTransport(t *testing.T) {
	release, blocked := make(chan struct{}), make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/close":
			w.Header().Set("Connection", "close")
		case "/block":
			blocked <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+string(body))
	}))
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(release)
	hc := &http.Client{Transport: newInlineTransport()}
	call := func(ctx context.Context, path string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader("x"))
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for range 3 {
		if got, err := call(t.Context(), "/"); err != nil || got != "POST x" {
			t.Fatalf("answer %q, %v", got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("three requests took %d connections, want 1", n)
	}
	if _, err := call(t.Context(), "/close"); err != nil {
		t.Fatal(err)
	}
	if got, err := call(t.Context(), "/"); err != nil || got != "POST x" || conns.Load() != 2 {
		t.Fatalf("after Connection: close: %q, %v, %d connections (want 2)", got, err, conns.Load())
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-blocked // the request is at the server: cancel it while it waits for the answer
		cancel()
	}()
	if _, err := call(ctx, "/block"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", err)
	}
	if got, err := call(t.Context(), "/"); err != nil || got != "POST x" {
		t.Fatalf("after a cancelled request: %q, %v", got, err)
	}
}
