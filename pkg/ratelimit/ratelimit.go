// Package ratelimit keeps per-client request budgets in Redis, so that every
// API replica enforces the same limits. Each budget is a GCRA (generic cell
// rate algorithm) in one Lua script: one key per client holding a single
// timestamp, one round trip per request, and Redis's own clock, so replicas
// with skewed clocks still agree.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is a budget: Rate requests per second on average, up to Burst at
// once.
type Limit struct {
	Rate  float64
	Burst int
}

// Window is how long a full burst takes to replenish.
func (l Limit) Window() time.Duration {
	return time.Duration(float64(l.Burst) / l.Rate * float64(time.Second))
}

// Result is the outcome of one request against a budget.
type Result struct {
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long until a request would be allowed (zero when
	// this one was).
	RetryAfter time.Duration
	// Reset is how long until the budget is whole again.
	Reset time.Duration
}

// Limiter decides whether a client's request fits its budget.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

var _ Limiter = (*Redis)(nil)

// Redis is a Limiter whose state lives in Redis under prefix.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Limiter on client; keys start with prefix.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// gcra holds the client's theoretical arrival time (TAT) in microseconds.
// A request is allowed when TAT − now ≤ τ, the burst tolerance; it then
// moves TAT on by one emission interval T.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local T = tonumber(ARGV[1])
local tau = T * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tau then
  return {0, 0, tat - tau - now, tat - now}
end
local new = tat + T
redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000) + 1)
return {1, math.floor((tau - (new - now)) / T) + 1, 0, new - now}
`)

func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	interval := int64(1e6 / l.Rate)
	v, err := gcra.Run(ctx, r.client, []string{r.prefix + key}, max(interval, 1), max(l.Burst, 1)).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: %w", err)
	}
	return Result{
		Allowed:    v[0] == 1,
		Remaining:  int(max(v[1], 0)),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		Reset:      time.Duration(v[3]) * time.Microsecond,
	}, nil
}
