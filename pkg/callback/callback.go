// Package callback POSTs a job's final record to the URL its client gave,
// signed so the receiver can trust it, retried with backoff, and never to
// an address the operator has not allowed (no SSRF into the cluster).
//
// The signature follows the common webhook pattern: the headers carry
// Sumprimes-Timestamp (Unix seconds) and Sumprimes-Signature, "v1=" and the
// hex HMAC-SHA256 of "<timestamp>.<body>" under the shared secret.
// Receivers should check it with Verify and reject old timestamps.
package callback

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/sumprimes/sumprimes/pkg/backoff"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// Headers set on every callback.
const (
	TimestampHeader = "Sumprimes-Timestamp"
	SignatureHeader = "Sumprimes-Signature"
)

// Sign returns the signature header value for body sent at timestamp.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is body's at timestamp under secret.
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// Sender delivers callbacks. It is safe for concurrent use.
type Sender struct {
	secret   []byte
	allowed  []*net.IPNet
	attempts int
	client   *http.Client
	log      *slog.Logger
}

// Config configures a Sender.
type Config struct {
	Secret string
	// Allowed lists networks that may be called back although they are
	// loopback, link-local or private (which are refused otherwise).
	Allowed  []*net.IPNet
	Attempts int           // deliveries tried before giving up
	Timeout  time.Duration // per attempt
	Log      *slog.Logger
}

// New returns a Sender, or nil when no secret is configured: callbacks are
// then off, since unsigned ones could be forged.
func New(cfg Config) *Sender {
	if cfg.Secret == "" {
		return nil
	}
	s := &Sender{secret: []byte(cfg.Secret), allowed: cfg.Allowed, attempts: max(1, cfg.Attempts), log: cfg.Log}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: s.control}
	s.client = &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			Proxy:       nil, // a proxy would dial for us, past the guard
			DialContext: dialer.DialContext,
		},
	}
	return s
}

// Check validates a callback URL when a job is submitted: http or https,
// a host, and no literal address the guard would refuse. Names are checked
// again on every dial, after they resolve.
func (s *Sender) Check(raw string) error {
	if s == nil {
		return errors.New("callbacks are off on this server (no callbacks.secret)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("callbackUrl must be an absolute http or https URL")
	}
	if u.User != nil {
		return errors.New("callbackUrl must not carry credentials")
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && !s.permitted(ip) {
		return fmt.Errorf("callbackUrl may not point at %s: loopback, link-local and private addresses are refused", ip)
	}
	return nil
}

// control runs before every connection: the address is resolved by now,
// so a name that points inside the network is caught here.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !s.permitted(ip) {
		return fmt.Errorf("callback: refusing to connect to %s", host)
	}
	return nil
}

func (s *Sender) permitted(ip net.IP) bool {
	for _, n := range s.allowed {
		if n.Contains(ip) {
			return true
		}
	}
	internal := ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified()
	return !internal
}

// Send delivers rec to its callback URL in the background, retrying with
// backoff; it does nothing for a record without one or a nil Sender. The
// delivery is best effort: it does not survive the process.
func (s *Sender) Send(rec job.Record) {
	if s == nil || rec.CallbackURL == "" {
		return
	}
	go func() {
		log := s.log.With("requestId", rec.RequestID)
		var b backoff.Backoff
		b.Base, b.Ceiling = 500*time.Millisecond, 30*time.Second
		for attempt := 1; ; attempt++ {
			err := s.Deliver(rec)
			if err == nil {
				log.Info("callback delivered", "attempt", attempt)
				return
			}
			if attempt >= s.attempts {
				log.Warn("callback abandoned", "attempts", attempt, "error", err)
				return
			}
			log.Warn("callback failed; retrying", "attempt", attempt, "error", err)
			b.Wait(context.Background())
		}
	}()
}

// Deliver makes one signed POST of rec to its callback URL and reports
// whether the receiver took it (2xx).
func (s *Sender) Deliver(rec job.Record) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, rec.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(s.secret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
