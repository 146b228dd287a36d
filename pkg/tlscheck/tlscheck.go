// Package tlscheck tells, at start-up, a server that will never accept this
// client's TLS from one that is merely not up yet: the first is a
// configuration to fix, the second a wait.
package tlscheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"time"
)

// Timeout bounds the handshake: a TLS server answers in milliseconds.
const Timeout = 2 * time.Second

// ErrNoHandshake reports a server that took the connection but not the TLS
// handshake: most likely a plaintext server.
var ErrNoHandshake = errors.New("the server took the connection but did not complete a TLS handshake")

// Handshake opens one TLS connection to addr under cfg, within Timeout. It
// returns nil when the handshake succeeds or the server cannot be reached
// at all, ErrNoHandshake when it neither answers nor closes, and the
// handshake's own error otherwise (see Untrusted).
func Handshake(ctx context.Context, addr string, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil // unreachable: nothing to say about the configuration
	}
	defer conn.Close()
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	err = tls.Client(conn, cfg).HandshakeContext(ctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil, errors.Is(err, io.EOF):
		return ErrNoHandshake
	}
	return err
}

// Untrusted reports whether err says the server's certificate is not
// trusted, or the handshake was refused for a TLS reason.
func Untrusted(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	return errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &verify) ||
		errors.As(err, &header) || err != nil && strings.Contains(err.Error(), "tls: ")
}
