package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// The janitor's view of the store (Index): the pending index, leases,
// attempt counts and the lock that keeps one janitor active at a time.

// Stale returns up to limit pending ids last seen alive before the given
// time, oldest first.
func (r *Redis) Stale(ctx context.Context, before time.Time, limit int) ([]string, error) {
	ids, err := r.client.ZRangeByScore(ctx, r.pendingKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(before.UnixMilli(), 10), Count: int64(limit),
	}).Result()
	return ids, translate(err)
}

// Touch marks a pending id as seen alive at the given time, if it is still
// pending.
func (r *Redis) Touch(ctx context.Context, id string, at time.Time) error {
	return translate(r.client.ZAddXX(ctx, r.pendingKey(), redis.Z{Score: float64(at.UnixMilli()), Member: id}).Err())
}

// Forget takes id out of the index (its record is final or gone).
func (r *Redis) Forget(ctx context.Context, id string) error {
	pipe := r.client.Pipeline()
	for _, lane := range job.Lanes {
		r.settle(ctx, pipe, lane, lane == job.Light, id)
	}
	_, err := pipe.Exec(ctx)
	return translate(err)
}

// Leased reports whether a worker holds a live lease on id.
func (r *Redis) Leased(ctx context.Context, id string) (bool, error) {
	n, err := r.client.Exists(ctx, r.leaseKey(id)).Result()
	return n == 1, translate(err)
}

// Attempt counts one more recovery attempt for id and returns the count.
func (r *Redis) Attempt(ctx context.Context, id string) (int, error) {
	n, err := r.client.HIncrBy(ctx, r.attemptsKey(), id, 1).Result()
	return int(n), translate(err)
}

// Pending returns how many jobs the index lists.
func (r *Redis) Pending(ctx context.Context) (int64, error) {
	n, err := r.client.ZCard(ctx, r.pendingKey()).Result()
	return n, translate(err)
}

var lead = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

var resign = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lead takes or renews the janitor lock for owner for ttl and reports
// whether owner holds it; another owner's live lock is left alone.
func (r *Redis) Lead(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	n, err := lead.Run(ctx, r.client, []string{r.prefix + "janitor:leader"}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("store: janitor lock: %w", translate(err))
	}
	return n == 1, nil
}

// Resign frees the janitor lock if owner holds it.
func (r *Redis) Resign(ctx context.Context, owner string) error {
	err := resign.Run(ctx, r.client, []string{r.prefix + "janitor:leader"}, owner).Err()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return translate(err)
}
