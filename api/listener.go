package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// problemListener hands out connections on which net/http's own error
// answers, the ones it writes before any handler runs (431 for headers too
// large, 400 for a malformed request line, …), become RFC 9457 problems
// like every other error this API gives.
type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return problemConn{c}, nil
}

type problemConn struct{ net.Conn }

// cannedHeaders follow the status line of every error net/http answers on
// its own; the responses handlers write never have them in this order.
const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c problemConn) Write(p []byte) (int, error) {
	if converted, ok := asProblem(p); ok {
		if _, err := c.Conn.Write(converted); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// asProblem rewrites one of net/http's canned "HTTP/1.1 <code> <text>"
// error responses as a problem+json response with the same status.
func asProblem(p []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 3 {
		return nil, false
	}
	status, body, ok := bytes.Cut(rest, []byte(cannedHeaders))
	if !ok {
		return nil, false
	}
	code, err := strconv.Atoi(string(status[:3]))
	if err != nil || code < 400 {
		return nil, false
	}
	detail := string(bytes.TrimSpace(body))
	if code == http.StatusRequestHeaderFieldsTooLarge {
		detail = "the request headers are too large"
	}
	doc, _ := json.Marshal(httpProblem(code, detail))
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), len(doc), doc), true
}
