// Package store keeps request records where any API replica can read them.
//
// Its interfaces are the boundary, split by who uses them: the API knows
// Records, Listing, Claims and Notifications; the worker Records, Progress
// and Tasks; the janitor Records and the Index. Redis is the real implementation and
// translates go-redis errors once, here; Memory is the in-process double
// for tests, held to the same rules by the conformance suite in storetest.
package store

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// ErrNotFound reports a record that never existed or has expired.
var ErrNotFound = errors.New("store: record not found")

// ErrFinal reports a change to a record that is already final.
var ErrFinal = errors.New("store: record is already final")

// ErrExists reports a Create for an id that already has a record.
var ErrExists = errors.New("store: record already exists")

// Records keeps one record per request. A record in progress never
// expires, however long the backlog: it is listed in the pending index, where
// the janitor watches it. A final record (FINISHED, FAILED or CANCELLED)
// leaves the index and expires after the result TTL.
type Records interface {
	// Create writes a new IN_PROGRESS record and lists it as pending,
	// failing with ErrExists if the id is taken.
	Create(ctx context.Context, rec job.Record) error
	// CreateAll creates recs at once (one round trip to Redis); errs[i]
	// is ErrExists where recs[i]'s id is taken. It also returns the
	// store's generation, read in the same round trip: records made under
	// another (the store was wiped since the caller last read it) must be
	// written again with it. A non-nil err means none may be relied on.
	CreateAll(ctx context.Context, recs []job.Record) (errs []error, generation string, err error)
	// Put writes rec over an IN_PROGRESS record, or where there is none
	// (a record lost to a wipe). A final record is never replaced: the
	// first FINISHED, FAILED or CANCELLED stands byte for byte, and Put
	// returns ErrFinal, so a redelivered or raced job may call it again.
	Put(ctx context.Context, rec job.Record) error
	// PutAll writes final records at once (one round trip to Redis), as
	// Put would one by one: errs[i] is ErrFinal where a final record
	// stood already. A non-nil err means some may not be written.
	PutAll(ctx context.Context, recs []job.Record) (errs []error, err error)
	// Get returns the record for id, or ErrNotFound (also for a rejected
	// job's tombstone).
	Get(ctx context.Context, id string) (job.Record, error)
	// Cancel makes an IN_PROGRESS record CANCELLED and announces it to the
	// workers; a final record is returned with ErrFinal.
	Cancel(ctx context.Context, id string) (job.Record, error)
	// Reject makes an IN_PROGRESS record a REJECTED tombstone, for a job
	// whose client is told it was not accepted: no worker computes it and
	// no one sees it (Get answers ErrNotFound), and a worker computing it
	// already is told to stop. A record that is final already (a worker
	// was faster) is returned with ErrFinal: the job was accepted after all.
	Reject(ctx context.Context, id string) (job.Record, error)
	// Generation names the store's contents: it stays the same until the
	// store is wiped, and is new afterwards. A job without a record is
	// computed only if it was accepted under another generation.
	Generation(ctx context.Context) (string, error)
	// Delete removes the record for id; a missing record is not an error.
	Delete(ctx context.Context, id string) error
}

// Progress is what a worker says of the job it computes.
type Progress interface {
	// Take reads the records of a batch of fetched jobs and leases them
	// all to owner for ttl, in one round trip, with the store's
	// generation; found[i].Err is ErrNotFound where ids[i] has no record.
	// A worker takes a job again to renew its lease while it computes, and
	// a final Put ends the lease; the janitor leaves leased jobs alone.
	Take(ctx context.Context, ids []string, owner string, ttl time.Duration) (found []Found, generation string, err error)
	// SetProgress records how far a running job has got (0..1); Get shows
	// it while the record is IN_PROGRESS.
	SetProgress(ctx context.Context, id string, fraction float64) error
}

// Claims ties idempotency keys to the requests they created.
type Claims interface {
	// Claim makes key (an idempotency key, scoped to its client) name c
	// for as long as records live, unless the key is taken already: then
	// it returns the claim that holds it and false.
	Claim(ctx context.Context, key string, c Claim) (Claim, bool, error)
	// Unclaim frees key, for a request that was not accepted after all.
	Unclaim(ctx context.Context, key string) error
}

// Index is the janitor's view: the pending index, leases, recovery
// attempts and the lock that keeps one janitor active at a time.
type Index interface {
	// Stale returns up to limit pending ids last seen alive before the
	// given time, oldest first.
	Stale(ctx context.Context, before time.Time, limit int) ([]string, error)
	// Touch marks a pending id as seen alive at the given time, if it is
	// still pending.
	Touch(ctx context.Context, id string, at time.Time) error
	// Forget takes id out of the index (its record is final or gone).
	Forget(ctx context.Context, id string) error
	// Leased reports whether a worker holds a live lease on id.
	Leased(ctx context.Context, id string) (bool, error)
	// Attempt counts one more recovery attempt for id and returns the count.
	Attempt(ctx context.Context, id string) (int, error)
	// Pending returns how many jobs the index lists.
	Pending(ctx context.Context) (int64, error)
	// Backlog returns, per lane, the planner's estimates summed over the
	// jobs accepted and not yet final: the compute time the backlog holds.
	Backlog(ctx context.Context) (map[job.Lane]time.Duration, error)
	// Lead takes or renews the janitor lock for owner for ttl and reports
	// whether owner holds it; another owner's live lock is left alone.
	Lead(ctx context.Context, owner string, ttl time.Duration) (bool, error)
	// Resign frees the janitor lock if owner holds it.
	Resign(ctx context.Context, owner string) error
}

// Notifications carry changes to whoever waits on them, in this process
// or another. They may be missed while the store is unreachable, so a
// waiter must also read the record itself.
type Notifications interface {
	// Changes delivers every change of a job's record or progress, until
	// ctx ends.
	Changes(ctx context.Context) <-chan Change
	// Cancellations delivers the id of every job a client cancels, until
	// ctx ends.
	Cancellations(ctx context.Context) <-chan string
}

// Store is the whole result store; each role asks for the parts it uses.
type Store interface {
	Records
	Listing
	Progress
	Tasks
	Claims
	Index
	Notifications
	Operations
	Fleet
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}

// Found is one record Take read.
type Found struct {
	Record job.Record
	Err    error
}

// Change says that a job's record or progress changed. Record is set when
// the change wrote a final record (a result or a failure): the new record
// itself, so that a waiter need not read it again.
type Change struct {
	ID     string
	Record *job.Record
}

// Finish writes a final record and reports whether this call wrote it:
// false, with no error, when the record was final already and stays as it
// was (a job cancelled meanwhile, or a FAILED that a result beat). Only a
// written record is worth telling a client about.
func Finish(ctx context.Context, r Records, rec job.Record) (bool, error) {
	switch err := r.Put(ctx, rec); {
	case errors.Is(err, ErrFinal):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// Claim ties an idempotency key to the request it created and the request
// body it came with.
type Claim struct {
	RequestID   string `json:"requestId"`
	Fingerprint string `json:"fingerprint"`
}

var _ Store = (*Redis)(nil)

// Redis is a Store with one JSON string key per request, a sorted set of
// pending ids (scored by when each was last seen alive) and one lease key
// per running job. It works on a single node, Sentinel or Cluster alike:
// each command and script touches a single key (pipelines send several
// commands, each routed to its key's node), which the conformance suite
// checks on a real Cluster.
type Redis struct {
	client   redis.UniversalClient
	prefix   string
	ttl      time.Duration
	replicas int // see WaitForReplicas
}

// NewRedis returns a Store on client; keys start with prefix and final
// records live for ttl.
func NewRedis(client redis.UniversalClient, prefix string, ttl time.Duration) *Redis {
	return &Redis{client: client, prefix: prefix, ttl: ttl}
}

// WaitForReplicas makes Create return only once replicas replicas hold the
// new record (Redis WAIT, within a second), so that a failover to one of
// them cannot lose a job the API has accepted. Zero, the default, waits
// for none: right for a single node or a Cluster without replicas.
func (r *Redis) WaitForReplicas(replicas int) *Redis {
	r.replicas = replicas
	return r
}

// Config says where the Redis is and how to sign in.
type Config struct {
	// Addrs: one address is a single node, several a Cluster; with
	// MasterName they are Sentinels.
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	// SentinelPassword signs in to the Sentinels themselves.
	SentinelPassword string
	// TLS, when set, encrypts every connection.
	TLS *tls.Config
}

// NewClient connects to the Redis cfg describes. It is the one place the
// service builds a Redis client.
func NewClient(cfg Config) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:            cfg.Addrs,
		MasterName:       cfg.MasterName,
		Username:         cfg.Username,
		Password:         cfg.Password,
		SentinelPassword: cfg.SentinelPassword,
		DB:               cfg.DB,
		TLSConfig:        cfg.TLS,
		DialTimeout:      2 * time.Second,
		ReadTimeout:      2 * time.Second,
		WriteTimeout:     2 * time.Second,
	})
}

// Key returns the Redis key holding the record for id.
func (r *Redis) Key(id string) string { return r.prefix + "job:" + id }

func (r *Redis) pendingKey() string           { return r.prefix + "pending" }
func (r *Redis) attemptsKey() string          { return r.prefix + "attempts" }
func (r *Redis) leaseKey(id string) string    { return r.prefix + "lease:" + id }
func (r *Redis) progressKey(id string) string { return r.prefix + "progress:" + id }
func (r *Redis) eventsChannel() string        { return r.prefix + "events" }
func (r *Redis) cancelledChannel() string     { return r.prefix + "cancelled" }

func (r *Redis) Create(ctx context.Context, rec job.Record) error {
	errs, _, err := r.CreateAll(ctx, []job.Record{rec})
	if err != nil {
		return err
	}
	return errs[0]
}

func (r *Redis) CreateAll(ctx context.Context, recs []job.Record) ([]error, string, error) {
	// Listed first: a pending id without a record is pruned by the janitor,
	// while a record missing from the index would never be watched. WAIT
	// counts the writes of its own connection: one pipeline, one connection.
	pipe := r.client.Pipeline()
	genKey := r.prefix + "generation"
	pipe.SetNX(ctx, genKey, uuid.NewString(), 0)
	gen := pipe.Get(ctx, genKey)
	// One command per record (its SETNX), the rest one per key for them
	// all: the pending index, each lane's backlog, the listings.
	pending := make([]redis.Z, len(recs))
	backlog := map[job.Lane][]any{}
	for i, rec := range recs {
		pending[i] = redis.Z{Score: float64(rec.CreatedAt.UnixMilli()), Member: rec.RequestID}
		backlog[rec.Lane] = append(backlog[rec.Lane], rec.RequestID, rec.Planned().Estimate.Milliseconds())
	}
	if len(pending) > 0 {
		pipe.ZAdd(ctx, r.pendingKey(), pending...)
	}
	for lane, args := range backlog {
		backlogAdd.Eval(ctx, pipe, r.backlogKeys(lane), args...)
	}
	sets := make([]*redis.BoolCmd, len(recs))
	for i, rec := range recs {
		data, err := encode(rec)
		if err != nil {
			return nil, "", err
		}
		sets[i] = pipe.SetNX(ctx, r.Key(rec.RequestID), data, 0)
	}
	r.indexForList(ctx, pipe, recs)
	var wait *redis.Cmd
	if r.replicas > 0 {
		wait = pipe.Do(ctx, "WAIT", r.replicas, replicaWait.Milliseconds())
	}
	_, err := pipe.Exec(ctx)
	errs := make([]error, len(recs))
	for i, set := range sets {
		switch {
		case set.Err() != nil:
			return nil, "", translate(set.Err())
		case !set.Val():
			errs[i] = ErrExists
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", translate(err)
	}
	if wait == nil {
		return errs, gen.Val(), nil
	}
	if acked, _ := wait.Int64(); acked < int64(r.replicas) {
		// Not on enough replicas: a failover could lose them, so they are
		// not records to promise anything on. Withdrawn, best effort.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), replicaWait)
		defer cancel()
		for i, rec := range recs {
			if errs[i] == nil {
				_ = r.Delete(cleanup, rec.RequestID)
			}
		}
		return nil, "", fmt.Errorf("store: the records reached %d of %d replicas: %w", acked, r.replicas, translate(wait.Err()))
	}
	return errs, gen.Val(), nil
}

// replicaWait bounds how long a write waits for its replicas.
const replicaWait = time.Second

func (r *Redis) Put(ctx context.Context, rec job.Record) error {
	if !rec.Status.Final() {
		data, err := encode(rec)
		if err != nil {
			return err
		}
		return translate(r.client.Set(ctx, r.Key(rec.RequestID), data, 0).Err()) // still pending: no expiry
	}
	errs, err := r.PutAll(ctx, []job.Record{rec})
	if err != nil {
		return err
	}
	return errs[0]
}

func (r *Redis) PutAll(ctx context.Context, recs []job.Record) ([]error, error) {
	pipe := r.client.Pipeline()
	puts := make([]*redis.Cmd, len(recs))
	for i, rec := range recs {
		if !rec.Status.Final() {
			return nil, fmt.Errorf("store: PutAll takes final records, %s is %s", rec.RequestID, rec.Status)
		}
		data, err := encode(rec)
		if err != nil {
			return nil, err
		}
		puts[i] = putFinal.Eval(ctx, pipe, []string{r.Key(rec.RequestID)}, data, r.ttl.Milliseconds(), string(rec.Status), r.eventsChannel())
	}
	byLane := map[job.Lane][]string{}
	for _, rec := range recs {
		byLane[rec.Lane] = append(byLane[rec.Lane], rec.RequestID)
	}
	for lane, ids := range byLane {
		r.settle(ctx, pipe, lane, false, ids...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, translate(err)
	}
	errs := make([]error, len(recs))
	for i, put := range puts {
		if written, _ := put.Int(); written == 0 {
			errs[i] = ErrFinal
		}
	}
	return errs, nil
}

// settle queues on pipe what ends jobs of lane that reached their final
// state: out of the index and the lane's backlog, no lease or progress,
// and, with announce, each id to whoever waits on it (putFinal announces
// the record itself). The index and the backlog take them all in one
// command each.
func (r *Redis) settle(ctx context.Context, pipe redis.Pipeliner, lane job.Lane, announce bool, ids ...string) {
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	pipe.ZRem(ctx, r.pendingKey(), members...)
	pipe.HDel(ctx, r.attemptsKey(), ids...)
	backlogRemove.Eval(ctx, pipe, r.backlogKeys(lane), members...)
	for _, id := range ids {
		pipe.Del(ctx, r.leaseKey(id)) // one key a command: on a Cluster they sit in different slots
		pipe.Del(ctx, r.progressKey(id))
		pipe.Del(ctx, r.tasksKey(id))
		if announce {
			pipe.Publish(ctx, r.eventsChannel(), id)
		}
	}
}

// putFinal writes a final record over an IN_PROGRESS one or none, never
// over a final one: one step, so that whichever final state comes first,
// a result, a failure, a cancellation or a rejection, stands. What it
// writes it announces, whole, on the events channel (ARGV[4]). A record is
// JSON from encoding/json, where a quote inside a string is escaped: the
// plain text "status":"IN_PROGRESS" can only be its status field, and
// finding it costs less than decoding the record.
var putFinal = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and not string.find(cur, '"status":"IN_PROGRESS"', 1, true) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 1
`)

// backlogAdd counts pending jobs' estimates in their lane's backlog, each
// once however often it is called: ARGV holds pairs of id and estimate
// (ms). backlogRemove takes those of the ids in ARGV out, each once. KEYS
// are the lane's estimates by id and their sum, in one slot.
var (
	backlogAdd = redis.NewScript(`
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i+1]) == 1 then
    added = added + ARGV[i+1]
  end
end
if added ~= 0 then
  redis.call('INCRBY', KEYS[2], added)
end
return 0
`)
	backlogRemove = redis.NewScript(`
local removed = 0
for i = 1, #ARGV do
  local ms = redis.call('HGET', KEYS[1], ARGV[i])
  if ms then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + ms
  end
end
if removed ~= 0 then
  redis.call('DECRBY', KEYS[2], removed)
end
return 0
`)
)

// backlogKeys are a lane's backlog keys; the hash tag keeps them in one
// Cluster slot, as a script needs.
func (r *Redis) backlogKeys(lane job.Lane) []string {
	tag := r.prefix + "backlog{" + lane.String() + "}"
	return []string{tag + ":jobs", tag + ":ms"}
}

func (r *Redis) Backlog(ctx context.Context) (map[job.Lane]time.Duration, error) {
	pipe := r.client.Pipeline()
	gets := map[job.Lane]*redis.StringCmd{}
	for _, lane := range job.Lanes {
		gets[lane] = pipe.Get(ctx, r.backlogKeys(lane)[1])
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, translate(err)
	}
	out := map[job.Lane]time.Duration{}
	for lane, get := range gets {
		ms, _ := get.Int64() // none yet: zero
		out[lane] = time.Duration(ms) * time.Millisecond
	}
	return out, nil
}

// endPending replaces the record with ARGV[1] only while it is still
// IN_PROGRESS; it answers 0 (no record), 1 (already final) or 2 (replaced).
var endPending = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cjson.decode(cur).status ~= 'IN_PROGRESS' then return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
`)

func (r *Redis) Cancel(ctx context.Context, id string) (job.Record, error) {
	return r.end(ctx, id, job.Record.Cancelled)
}

func (r *Redis) Reject(ctx context.Context, id string) (job.Record, error) {
	return r.end(ctx, id, job.Record.Rejected)
}

// end replaces an IN_PROGRESS record with final(record, now), tells any
// worker computing it to stop, and settles it; a record final already is
// returned with ErrFinal.
func (r *Redis) end(ctx context.Context, id string, final func(job.Record, time.Time) job.Record) (job.Record, error) {
	for {
		rec, err := r.Get(ctx, id)
		if err != nil {
			return job.Record{}, err
		}
		if rec.Status.Final() {
			return rec, ErrFinal
		}
		ended := final(rec, time.Now().UTC())
		data, err := encode(ended)
		if err != nil {
			return job.Record{}, err
		}
		n, err := endPending.Run(ctx, r.client, []string{r.Key(id)}, data, r.ttl.Milliseconds()).Int()
		switch {
		case err != nil:
			return job.Record{}, translate(err)
		case n == 0:
			return job.Record{}, ErrNotFound
		case n == 1:
			continue // became final meanwhile: read it again
		}
		pipe := r.client.Pipeline()
		pipe.Publish(ctx, r.cancelledChannel(), id)
		r.settle(ctx, pipe, rec.Lane, false, id)
		// A cancellation is announced with its record, as a result is; a
		// rejection, which no one may see, by id.
		announced := any(id)
		if ended.Status == job.Cancelled {
			announced = data
		}
		pipe.Publish(ctx, r.eventsChannel(), announced)
		_, err = pipe.Exec(ctx)
		return ended, translate(err)
	}
}

// Generation reads the generation key, making one when there is none (a
// new store, or a wiped one).
func (r *Redis) Generation(ctx context.Context) (string, error) {
	key := r.prefix + "generation"
	pipe := r.client.Pipeline()
	pipe.SetNX(ctx, key, uuid.NewString(), 0)
	get := pipe.Get(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", translate(err)
	}
	return get.Val(), nil
}

func (r *Redis) SetProgress(ctx context.Context, id string, fraction float64) error {
	pipe := r.client.Pipeline() // one round trip
	pipe.Set(ctx, r.progressKey(id), strconv.FormatFloat(fraction, 'f', 4, 64), time.Hour)
	pipe.Publish(ctx, r.eventsChannel(), id)
	_, err := pipe.Exec(ctx)
	return translate(err)
}

func (r *Redis) Take(ctx context.Context, ids []string, owner string, ttl time.Duration) ([]Found, string, error) {
	pipe := r.client.Pipeline()
	genKey := r.prefix + "generation"
	pipe.SetNX(ctx, genKey, uuid.NewString(), 0)
	gen := pipe.Get(ctx, genKey)
	gets := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, r.Key(id))
		pipe.Set(ctx, r.leaseKey(id), owner, ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", translate(err)
	}
	found := make([]Found, len(ids))
	for i, get := range gets {
		found[i].Record, found[i].Err = decode(ids[i], get)
	}
	return found, gen.Val(), nil
}

// decode reads a record from get's reply; a rejected job's tombstone is
// not found.
func decode(id string, get *redis.StringCmd) (job.Record, error) {
	data, err := get.Bytes()
	if err != nil {
		return job.Record{}, translate(err)
	}
	rec, err := job.DecodeRecord(data)
	if err != nil {
		return job.Record{}, fmt.Errorf("store: decode %s: %w", id, err)
	}
	if rec.Status == job.Rejected {
		return job.Record{}, ErrNotFound
	}
	return rec, nil
}

func (r *Redis) Get(ctx context.Context, id string) (job.Record, error) {
	pipe := r.client.Pipeline()
	recCmd := pipe.Get(ctx, r.Key(id))
	progressCmd := pipe.Get(ctx, r.progressKey(id))
	tasksCmd := pipe.HMGet(ctx, r.tasksKey(id), "n", "done")
	_, _ = pipe.Exec(ctx) // each command carries its own error
	rec, err := decode(id, recCmd)
	if err != nil {
		return job.Record{}, err
	}
	if f, err := progressCmd.Float64(); err == nil && rec.Status == job.InProgress {
		rec.Progress = &f
	}
	if rec.Status == job.InProgress {
		rec.Tasks, rec.TasksDone = taskCounts(tasksCmd)
	}
	return rec, nil
}

func (r *Redis) Delete(ctx context.Context, id string) error {
	pipe := r.client.Pipeline()
	pipe.Del(ctx, r.Key(id))
	for _, lane := range job.Lanes {
		r.settle(ctx, pipe, lane, lane == job.Light, id)
	}
	_, err := pipe.Exec(ctx)
	return translate(err)
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
