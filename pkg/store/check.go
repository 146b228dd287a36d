package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/tlscheck"
)

// ErrMisconfigured reports a Redis that answers but will not take the
// service as configured: retrying will not help, the configuration must
// change.
var ErrMisconfigured = errors.New("store: redis refuses this configuration")

// Check asks the server once, within ctx, whether it takes the client as
// configured. A wrong password, a certificate not trusted, or TLS on one
// side only come back wrapping ErrMisconfigured with what to fix; a server
// that cannot be reached is no error here (it may still be starting, and
// readiness says so meanwhile). go-redis bounds no TLS handshake, so with
// TLS on, one handshake is tried first, bounded.
func Check(ctx context.Context, cfg Config, client redis.UniversalClient) error {
	var err error
	if cfg.TLS != nil && len(cfg.Addrs) > 0 {
		err = tlscheck.Handshake(ctx, cfg.Addrs[0], cfg.TLS)
	}
	if err == nil {
		err = client.Ping(ctx).Err()
	}
	msg := ""
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "WRONGPASS"), strings.Contains(err.Error(), "NOAUTH"),
		strings.Contains(err.Error(), "invalid password"), strings.Contains(err.Error(), "invalid username-password"),
		strings.Contains(err.Error(), "AUTH"):
		msg = "the user or password was refused (redis.username, redis.password)"
	case errors.Is(err, tlscheck.ErrNoHandshake):
		msg = "does it speak TLS (redis.tls.enabled)?"
	case tlscheck.Untrusted(err):
		msg = "the TLS handshake failed: is the server's certificate trusted (redis.tls.ca_file, redis.tls.server_name), does it speak TLS (redis.tls.enabled)?"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		msg = "the server closed the connection at once: does it want TLS (redis.tls.enabled)?"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s: %v", ErrMisconfigured, msg, err)
}
