package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// inlineTransport is bench's HTTP/1.1 transport for plain-http APIs: a
// request is written and its answer read by the goroutine that sends it,
// on a kept-alive connection it holds for the exchange. net/http's
// Transport hands each request to its connection's writer and reader
// goroutines and the answer back, four goroutine switches a request,
// which on a machine the load generator shares with the service is CPU
// taken from the service under test (a fifth of the generator's own).
type inlineTransport struct {
	idle chan *inlineConn
	dial net.Dialer
}

type inlineConn struct {
	net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func newInlineTransport() *inlineTransport {
	return &inlineTransport{idle: make(chan *inlineConn, 4096), dial: net.Dialer{Timeout: 10 * time.Second}}
}

func (t *inlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, errors.New("bench: the inline transport speaks plain http only")
	}
	ctx := req.Context()
	var c *inlineConn
	select {
	case c = <-t.idle:
	default:
		nc, err := t.dial.DialContext(ctx, "tcp", req.URL.Host)
		if err != nil {
			return nil, err
		}
		c = &inlineConn{Conn: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}
	}
	// A cancelled request unblocks its reads and writes by the deadline,
	// and its connection is not kept.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	err := req.Write(c.w)
	if err == nil {
		err = c.w.Flush()
	}
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(c.r, req)
	}
	if err != nil {
		stop()
		_ = c.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, err
	}
	resp.Body = &inlineBody{ReadCloser: resp.Body, t: t, c: c, stop: stop, keep: !resp.Close}
	return resp, nil
}

// inlineBody gives its connection back when closed, the answer read to
// its end (Close consumes what is left), unless the request was cancelled
// or the server closes the connection.
type inlineBody struct {
	io.ReadCloser
	t    *inlineTransport
	c    *inlineConn
	stop func() bool
	keep bool
}

func (b *inlineBody) Close() error {
	err := b.ReadCloser.Close()
	if b.c == nil {
		return err
	}
	c := b.c
	b.c = nil
	if !b.stop() || !b.keep || err != nil {
		return errors.Join(err, c.Close())
	}
	select {
	case b.t.idle <- c:
	default:
		_ = c.Close()
	}
	return nil
}
