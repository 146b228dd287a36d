package queue

import (
	"errors"
	"fmt"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/pkg/tlscheck"
)

// ErrMisconfigured reports a broker that answers but will not take the
// service as configured: retrying will not help, the configuration must
// change.
var ErrMisconfigured = errors.New("queue: kafka refuses this configuration")

// misconfigured returns err wrapped in ErrMisconfigured with what to fix,
// or nil for an error that a retry may cure (nil included).
func misconfigured(err error) error {
	var msg string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kafka.SASLAuthenticationFailed), errors.Is(err, kafka.UnsupportedSASLMechanism),
		errors.Is(err, kafka.IllegalSASLState):
		msg = "the broker refused to sign in (kafka.sasl.mechanism, kafka.sasl.username, kafka.sasl.password)"
	case errors.Is(err, kafka.TopicAuthorizationFailed), errors.Is(err, kafka.ClusterAuthorizationFailed),
		errors.Is(err, kafka.GroupAuthorizationFailed):
		msg = "the user may not do this: grant it the ACLs the README lists"
	case errors.Is(err, tlscheck.ErrNoHandshake):
		msg = "the broker does not complete a TLS handshake: does it speak TLS there (kafka.tls.enabled, kafka.brokers)?"
	case strings.Contains(err.Error(), "expecting TLS"):
		msg = "the broker expects TLS (kafka.tls.enabled)"
	case tlscheck.Untrusted(err):
		msg = "the TLS handshake failed: is the broker's certificate trusted (kafka.tls.ca_file, kafka.tls.server_name)?"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s: %v", ErrMisconfigured, msg, err)
}
