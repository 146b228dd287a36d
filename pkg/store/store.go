// Package store keeps request records where any API replica can read them.
//
// The Store interface is the boundary: the API and the workers know records,
// not Redis. The Redis implementation translates go-redis errors once, here.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/config"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// ErrNotFound reports a record that never existed or has expired.
var ErrNotFound = errors.New("store: record not found")

// ErrExists reports a Create for an id that already has a record.
var ErrExists = errors.New("store: record already exists")

// Store keeps one record per request. Every write sets the record's TTL.
type Store interface {
	// Create writes a new record, failing with ErrExists if the id is taken.
	Create(ctx context.Context, rec job.Record) error
	// Put writes rec, replacing any record with the same id, except that a
	// FINISHED record is never replaced by a FAILED one: a late result
	// always wins. Writing the same record twice is harmless, so
	// redelivered jobs may call it again.
	Put(ctx context.Context, rec job.Record) error
	// Get returns the record for id, or ErrNotFound.
	Get(ctx context.Context, id string) (job.Record, error)
	// Delete removes the record for id; a missing record is not an error.
	Delete(ctx context.Context, id string) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Claim makes key (an idempotency key, scoped to its client) name c
	// for as long as records live, unless the key is taken already: then
	// it returns the claim that holds it and false.
	Claim(ctx context.Context, key string, c Claim) (Claim, bool, error)
	// Unclaim frees key, for a request that was not accepted after all.
	Unclaim(ctx context.Context, key string) error
}

// Claim ties an idempotency key to the request it created and the request
// body it came with.
type Claim struct {
	RequestID   string `json:"requestId"`
	Fingerprint string `json:"fingerprint"`
}

var _ Store = (*Redis)(nil)

// Redis is a Store with one JSON string key per request. It works on a
// single node, Sentinel or Cluster alike: it only uses single-key commands.
type Redis struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewRedis returns a Store on client; keys start with prefix and live for ttl.
func NewRedis(client redis.UniversalClient, prefix string, ttl time.Duration) *Redis {
	return &Redis{client: client, prefix: prefix, ttl: ttl}
}

// NewClient connects to the Redis described by cfg: one address is a single
// node, several a Cluster, and a master name makes them Sentinels.
func NewClient(cfg config.Redis) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        cfg.Addrs,
		MasterName:   cfg.MasterName,
		Username:     cfg.Username,
		Password:     string(cfg.Password),
		DB:           cfg.DB,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
	})
}

// Key returns the Redis key holding the record for id.
func (r *Redis) Key(id string) string { return r.prefix + "job:" + id }

func (r *Redis) Create(ctx context.Context, rec job.Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", rec.RequestID, err)
	}
	ok, err := r.client.SetNX(ctx, r.Key(rec.RequestID), data, r.ttl).Result()
	if err != nil {
		return translate(err)
	}
	if !ok {
		return ErrExists
	}
	return nil
}

func (r *Redis) Put(ctx context.Context, rec job.Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", rec.RequestID, err)
	}
	if rec.Status != job.Failed {
		return translate(r.client.Set(ctx, r.Key(rec.RequestID), data, r.ttl).Err())
	}
	return translate(failUnlessFinished.Run(ctx, r.client, []string{r.Key(rec.RequestID)}, data, r.ttl.Milliseconds()).Err())
}

// failUnlessFinished writes a FAILED record unless the key holds a FINISHED
// one, in one step so that a worker finishing meanwhile cannot lose.
var failUnlessFinished = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).status == 'FINISHED' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

func (r *Redis) Get(ctx context.Context, id string) (job.Record, error) {
	data, err := r.client.Get(ctx, r.Key(id)).Bytes()
	if err != nil {
		return job.Record{}, translate(err)
	}
	var rec job.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return job.Record{}, fmt.Errorf("store: decode %s: %w", id, err)
	}
	return rec, nil
}

func (r *Redis) Delete(ctx context.Context, id string) error {
	return translate(r.client.Del(ctx, r.Key(id)).Err())
}

func (r *Redis) Ping(ctx context.Context) error {
	return translate(r.client.Ping(ctx).Err())
}

func (r *Redis) claimKey(key string) string { return r.prefix + "idem:" + key }

func (r *Redis) Claim(ctx context.Context, key string, c Claim) (Claim, bool, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return Claim{}, false, fmt.Errorf("store: encode claim: %w", err)
	}
	for {
		ok, err := r.client.SetNX(ctx, r.claimKey(key), data, r.ttl).Result()
		if err != nil {
			return Claim{}, false, translate(err)
		}
		if ok {
			return c, true, nil
		}
		old, err := r.client.Get(ctx, r.claimKey(key)).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // expired between the two calls: try again
		}
		if err != nil {
			return Claim{}, false, translate(err)
		}
		var held Claim
		if err := json.Unmarshal(old, &held); err != nil {
			return Claim{}, false, fmt.Errorf("store: decode claim: %w", err)
		}
		return held, false, nil
	}
}

func (r *Redis) Unclaim(ctx context.Context, key string) error {
	return translate(r.client.Del(ctx, r.claimKey(key)).Err())
}

// translate is the one place go-redis errors become the store's.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return ErrNotFound
	default:
		return fmt.Errorf("store: redis: %w", err)
	}
}
