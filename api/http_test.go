package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// serve runs the bundle's server on a real listener until the test ends
// and returns its address: these tests are about the connection itself.
func serve(t *testing.T, b *testBundle) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.server.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return ln.Addr().String()
}

// exchange writes raw to a new connection, closing the write side when
// half is set, and returns everything the server answers until it closes
// the connection.
func exchange(t *testing.T, addr, raw string, half bool) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a bound for the test, not a timing under test
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	if half {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	out, err := io.ReadAll(conn)
	if err != nil && len(out) == 0 { // a reset after the answer (unread input) is fine
		t.Fatalf("reading the answer: %v", err)
	}
	return string(out)
}

func TestConnections(t *testing.T) {
	t.Parallel()

	t.Run("AnswersATruncatedBodyWith400", func(t *testing.T) {
		t.Parallel()
		addr := serve(t, setup(t))
		out := exchange(t, addr, "POST /sumPrime HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":1,\"b\":", true)
		if !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, "urn:sumprimes:problem:truncated-body") {
			t.Fatalf("answer = %q, want a 400 truncated-body problem", out)
		}
	})

	t.Run("ClosesAConnectionWhoseBodyNeverArrives", func(t *testing.T) {
		t.Parallel()
		addr := serve(t, setup(t))
		// One byte of a declared 100, then nothing: the read deadline ends it.
		out := exchange(t, addr, "POST /sumPrime HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", false)
		if out != "" && !strings.HasPrefix(out, "HTTP/1.1 408 ") {
			t.Fatalf("answer = %q, want the connection closed (or a 408)", out)
		}
	})

	t.Run("ClosesAnIdleKeptAliveConnection", func(t *testing.T) {
		t.Parallel()
		addr := serve(t, setup(t))
		out := exchange(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false) // then idle
		if !strings.HasPrefix(out, "HTTP/1.1 200 ") {
			t.Fatalf("answer = %q, want 200 and then the connection closed", out)
		}
	})

	t.Run("KeepsALongPollOpenPastTheReadDeadline", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		addr := serve(t, b)
		j := job.Job{RequestID: "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", A: 1, B: 10, CreatedAt: time.Now()}
		_ = b.store.Create(context.Background(), job.Pending(j))
		resp, err := http.Get("http://" + addr + "/sumPrime/" + j.RequestID + "?wait=2s") // twice the read timeout
		if err != nil {
			t.Fatalf("long-poll: %v, want an answer when the wait ends", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("long-poll = %d, want 200", resp.StatusCode)
		}
	})
}

// TestHTTPDetails: the small things HTTP clients and attackers probe.
func TestHTTPDetails(t *testing.T) {
	t.Parallel()

	t.Run("AnswersHeadersTooLargeWithAProblem", func(t *testing.T) {
		t.Parallel()
		addr := serve(t, setup(t))
		out := exchange(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 2<<20)+"\r\n\r\n", false)
		if !strings.HasPrefix(out, "HTTP/1.1 431 ") || !strings.Contains(out, "Content-Type: application/problem+json") ||
			!strings.Contains(out, `"status":431`) {
			t.Fatalf("answer = %.300q, want a 431 problem", out)
		}
	})

	t.Run("AnswersHeadWhereverGetIsServed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		addr := serve(t, b)
		j := job.Job{RequestID: "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", A: 1, B: 10, CreatedAt: time.Now()}
		_ = b.store.Create(context.Background(), job.Pending(j))
		for _, path := range []string{"/", "/healthz", "/readyz", "/openapi.yaml", "/sumPrime/" + j.RequestID, "/sumPrime/" + j.RequestID + "/events"} {
			resp, err := http.Head("http://" + addr + path)
			if err != nil {
				t.Fatalf("HEAD %s: %v", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("HEAD %s = %d, want 200", path, resp.StatusCode)
			}
		}
	})

	t.Run("AcceptsRequestIDsInCanonicalFormOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, id := range []string{
			"urn:uuid:3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60",
			"{3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60}",
			"3f1c2a9e8b7d4c6e9f0a1b2c3d4e5f60",
			"3F1C2A9E-8B7D-4C6E-9F0A-1B2C3D4E5F60",
		} {
			if rec := b.do(t, http.MethodGet, "/sumPrime/"+id, "", ""); rec.Code != http.StatusBadRequest {
				t.Errorf("GET %s = %d, want 400", id, rec.Code)
			}
		}
	})
}
