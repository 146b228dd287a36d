package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrMisconfigured reports a Redis that answers but will not take the
// service as configured: retrying will not help, the configuration must
// change.
var ErrMisconfigured = errors.New("store: redis refuses this configuration")

// Check asks the server once, within ctx, whether it takes the client as
// configured. A wrong password, a certificate not trusted, or TLS on one
// side only come back wrapping ErrMisconfigured with what to fix; a server
// that cannot be reached is no error here (it may still be starting, and
// readiness says so meanwhile).
func Check(ctx context.Context, cfg Config, client redis.UniversalClient) error {
	err := handshake(ctx, cfg)
	if err == nil {
		err = client.Ping(ctx).Err()
	}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "WRONGPASS"), strings.Contains(err.Error(), "NOAUTH"),
		strings.Contains(err.Error(), "invalid password"), strings.Contains(err.Error(), "invalid username-password"),
		strings.Contains(err.Error(), "AUTH"):
		return fmt.Errorf("%w: the user or password was refused (redis.username, redis.password): %v", ErrMisconfigured, err)
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &verify):
		return fmt.Errorf("%w: the server's certificate is not trusted (redis.tls.ca_file, redis.tls.server_name): %v", ErrMisconfigured, err)
	case errors.As(err, &header):
		return fmt.Errorf("%w: the server does not speak TLS (redis.tls.enabled): %v", ErrMisconfigured, err)
	case strings.Contains(err.Error(), "tls: "):
		return fmt.Errorf("%w: the TLS handshake failed (redis.tls.*): %v", ErrMisconfigured, err)
	case errors.Is(err, errNoHandshake):
		return fmt.Errorf("%w: %v: does it speak TLS (redis.tls.enabled)?", ErrMisconfigured, err)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%w: the server closed the connection at once: does it want TLS (redis.tls.enabled)? %v", ErrMisconfigured, err)
	}
	return nil
}

// errNoHandshake is a server that took the connection but not the TLS
// handshake: a plaintext server waits for a command that never comes.
var errNoHandshake = errors.New("the server took the connection but did not answer the TLS handshake")

// handshakeTimeout bounds the probe: a TLS server answers in milliseconds.
const handshakeTimeout = 2 * time.Second

// handshake opens one TLS connection to the first address, when TLS is
// on: go-redis bounds no handshake, so a plaintext server would hold the
// client until its caller gives up. A server that cannot be reached is no
// error here.
func handshake(ctx context.Context, cfg Config) error {
	if cfg.TLS == nil || len(cfg.Addrs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", cfg.Addrs[0])
	if err != nil {
		return nil // unreachable: not a configuration to refuse
	}
	defer conn.Close()
	tlsCfg := cfg.TLS.Clone()
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName, _, _ = net.SplitHostPort(cfg.Addrs[0])
	}
	err = tls.Client(conn, tlsCfg).HandshakeContext(ctx)
	if ctx.Err() != nil {
		return errNoHandshake
	}
	return err
}
