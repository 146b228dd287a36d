package api

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sumprimes/sumprimes/pkg/ratelimit"
)

// limited spends one request of the client's budget, answering 429 with
// Retry-After when it is spent. Every answer carries the RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers) so well-behaved clients can pace
// themselves. If the limiter itself fails, the request goes through: Redis
// being down is the store's problem to report, not a reason to refuse.
func (s *Server) limited(budget string, limit ratelimit.Limit) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if s.limiter == nil {
				return next(c)
			}
			ctx, cancel := contextWithTimeout(c, s.timeout)
			defer cancel()
			r, err := s.limiter.Allow(ctx, budget+":"+s.client(c), limit)
			if err != nil {
				s.log.Warn("rate limiter unavailable; letting the request through", "error", err)
				return next(c)
			}
			h := c.Response().Header()
			h.Set("RateLimit-Policy", strconv.Itoa(limit.Burst)+";w="+strconv.Itoa(int(math.Ceil(limit.Window().Seconds()))))
			h.Set("RateLimit-Limit", strconv.Itoa(limit.Burst))
			h.Set("RateLimit-Remaining", strconv.Itoa(r.Remaining))
			h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(r.Reset.Seconds()))))
			if !r.Allowed {
				p := problem(http.StatusTooManyRequests, "rate-limited",
					"too many "+budget+" requests from this client: slow down and honour Retry-After")
				p.retryAfter = max(1, int(math.Ceil(r.RetryAfter.Seconds())))
				return p
			}
			return next(c)
		}
	}
}

// client names who is asking, for rate limits and idempotency keys: the
// name it authenticated as; without API keys, the key header when one is
// sent (hashed, so keys are not stored in Redis), else the remote address
// as echo's IP extractor sees it (X-Forwarded-For only from trusted proxies).
func (s *Server) client(c echo.Context) string {
	if name := owner(c); name != "" {
		return "name:" + name
	}
	if s.apiKeyHeader != "" {
		if key := c.Request().Header.Get(s.apiKeyHeader); key != "" {
			sum := sha256.Sum256([]byte(key))
			return "key:" + hex.EncodeToString(sum[:12])
		}
	}
	return "ip:" + c.RealIP()
}

// ipExtractor trusts X-Forwarded-For only when the direct peer is one of
// the trusted proxies; with none configured, the peer is the client.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
