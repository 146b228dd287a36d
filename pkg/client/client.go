// Package client talks to a sumprimes API and hides its asynchrony: Sum
// submits a range and blocks until the exact sum arrives, waiting the way
// the server asks (long-polls, Retry-After, 429 and 503 with backoff).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// Record is a request's state as the API reports it.
type Record = job.Record

// Error is a problem (RFC 9457) the API answered with.
type Error struct {
	Status     int           `json:"status"` // HTTP status
	Type       string        `json:"type"`   // problem type URI
	Title      string        `json:"title"`
	Detail     string        `json:"detail"`
	Field      string        `json:"field"` // the request field at fault, if any
	RetryAfter time.Duration `json:"-"`     // from Retry-After, if sent
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Title)
}

// Temporary reports whether trying again later may succeed (429, 503).
func (e *Error) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// ErrNotFinished is returned by Sum for a job that ended FAILED or
// CANCELLED; the record says which and why.
var ErrNotFinished = errors.New("client: job did not finish")

// Client is safe for concurrent use.
type Client struct {
	base   string
	http   *http.Client
	apiKey string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc for requests (timeouts, transports, proxies).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithAPIKey sends key as X-API-Key: a server with API keys authenticates
// the client by it (and shows it only its own jobs); one without names the
// client's rate-limit budget by it.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// New returns a Client for the API at baseURL, e.g. http://127.0.0.1:8080.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SubmitOption configures one Submit.
type SubmitOption func(*submission)

// submission is one Submit's request: its body's fields and headers.
type submission struct {
	body   submitBody
	header http.Header
}

// submitBody is POST /sumPrime's JSON.
type submitBody struct {
	A           uint64 `json:"a"`
	B           uint64 `json:"b"`
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// IdempotencyKey makes the submit safe to retry: the same key and range
// return the original job instead of a new one.
func IdempotencyKey(key string) SubmitOption {
	return func(s *submission) { s.header.Set("Idempotency-Key", strconv.Quote(key)) }
}

// PreferWait asks the API to answer the submit with the final record if
// the job finishes within d (whole seconds, RFC 7240 Prefer: wait), which
// saves a poll for a quick job; the record is IN_PROGRESS if it did not.
func PreferWait(d time.Duration) SubmitOption {
	return func(s *submission) { s.header.Set("Prefer", "wait="+strconv.Itoa(max(1, int(d.Seconds())))) }
}

// CallbackURL asks the API to POST the final record to url when the job
// ends (signed, see the README's Callbacks).
func CallbackURL(url string) SubmitOption {
	return func(s *submission) { s.body.CallbackURL = url }
}

// Submit asks for the sum of the primes in [a, b] and returns the accepted
// (IN_PROGRESS) record at once, or, with PreferWait, the final record if it
// came in time.
func (c *Client) Submit(ctx context.Context, a, b uint64, opts ...SubmitOption) (Record, error) {
	sub := submission{body: submitBody{A: a, B: b}, header: http.Header{}}
	for _, o := range opts {
		o(&sub)
	}
	body, _ := json.Marshal(sub.body)
	req, err := c.request(ctx, http.MethodPost, "/sumPrime", bytes.NewReader(body))
	if err != nil {
		return Record{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range sub.header {
		req.Header[k] = v
	}
	return c.do(req)
}

// Page is one page of List: jobs newest first, and the token of the next
// page ("" after the last).
type Page struct {
	Jobs          []Record `json:"jobs"`
	NextPageToken string   `json:"nextPageToken,omitempty"`
}

// ListOptions select a page of List: a status ("" for all), a page size
// (0 for the API's default) and the token of the page (from the page
// before; "" for the first).
type ListOptions struct {
	Status    string
	Limit     int
	PageToken string
}

// List returns a page of the jobs the API keeps (the result TTL's worth),
// newest first: the caller's own when the API has keys.
func (c *Client) List(ctx context.Context, opt ListOptions) (Page, error) {
	q := url.Values{}
	if opt.Status != "" {
		q.Set("status", opt.Status)
	}
	if opt.Limit > 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	if opt.PageToken != "" {
		q.Set("page_token", opt.PageToken)
	}
	path := "/sumPrime"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return Page{}, err
	}
	var page Page
	return page, c.doJSON(req, &page)
}

// Get returns the request's record now.
func (c *Client) Get(ctx context.Context, id string) (Record, error) {
	return c.get(ctx, id, 0)
}

// Cancel cancels a job in progress; a final one is an *Error with 409.
func (c *Client) Cancel(ctx context.Context, id string) (Record, error) {
	req, err := c.request(ctx, http.MethodDelete, "/sumPrime/"+url.PathEscape(id), nil)
	if err != nil {
		return Record{}, err
	}
	return c.do(req)
}

// Wait blocks until the request is final and returns its record. It
// long-polls (30 s a request), or 1 s at a time when progress is not nil so
// that progress sees each update; 429 and 503 answers are waited out as
// their Retry-After says, with jittered backoff.
func (c *Client) Wait(ctx context.Context, id string, progress func(Record)) (Record, error) {
	wait := 30 * time.Second
	if progress != nil {
		wait = time.Second
	}
	var failures int
	for {
		rec, err := c.get(ctx, id, wait)
		var e *Error
		switch {
		case errors.As(err, &e) && e.Temporary():
			failures++
			if err := sleep(ctx, backoff(failures, e.RetryAfter)); err != nil {
				return Record{}, err
			}
			continue
		case err != nil:
			return Record{}, err
		}
		failures = 0
		if progress != nil {
			progress(rec)
		}
		if rec.Status.Final() {
			return rec, nil
		}
	}
}

// Sum submits [a, b] and blocks until its exact sum (a decimal string)
// arrives. A job that ends FAILED or CANCELLED returns ErrNotFinished.
func (c *Client) Sum(ctx context.Context, a, b uint64) (string, error) {
	rec, err := c.Submit(ctx, a, b, PreferWait(30*time.Second))
	if err != nil {
		return "", err
	}
	if !rec.Status.Final() {
		if rec, err = c.Wait(ctx, rec.RequestID, nil); err != nil {
			return "", err
		}
	}
	if rec.Status != job.Finished || rec.Payload == nil {
		return "", fmt.Errorf("%w: %s %s", ErrNotFinished, rec.Status, rec.Error)
	}
	return *rec.Payload, nil
}

func (c *Client) get(ctx context.Context, id string, wait time.Duration) (Record, error) {
	path := "/sumPrime/" + url.PathEscape(id)
	if wait > 0 {
		path += "?wait=" + wait.String()
	}
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return Record{}, err
	}
	return c.do(req)
}

func (c *Client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if c.apiKey != "" {
		req.Header.Set("X-API-Key", c.apiKey)
	}
	return req, nil
}

// do sends req and decodes a record, or the problem the server answered.
// A record comes as the API writes it, which job.DecodeRecord reads in
// one pass, without encoding/json's reflection.
func (c *Client) do(req *http.Request) (Record, error) {
	data, err := c.send(req)
	if err != nil {
		return Record{}, err
	}
	rec, err := job.DecodeRecord(bytes.TrimSpace(data))
	if err != nil {
		return Record{}, fmt.Errorf("client: decode answer: %w", err)
	}
	return rec, nil
}

// doJSON sends req and decodes the answer into v, or returns the problem
// the API answered with as an *Error.
func (c *Client) doJSON(req *http.Request, v any) error {
	data, err := c.send(req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("client: decode answer: %w", err)
	}
	return nil
}

// send sends req and returns the answer's body, or the problem the API
// answered with as an *Error.
func (c *Client) send(req *http.Request) ([]byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("client: read answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		e := &Error{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
		_ = json.Unmarshal(data, e)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return nil, e
	}
	return data, nil
}

// backoff is the wait before retry n: what the server asked for, else an
// exponential delay capped at 10 s, with full jitter.
func backoff(n int, asked time.Duration) time.Duration {
	if asked > 0 {
		return asked + rand.N(asked/4+time.Millisecond)
	}
	d := min(10*time.Second, 100*time.Millisecond<<min(n, 10))
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
