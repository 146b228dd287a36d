package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// Operations is the operator's view: the jobs running and who runs them,
// and a failed job's new attempt.
type Operations interface {
	// Running returns up to limit jobs of the pending index whose records
	// are IN_PROGRESS, oldest first, each with the worker that holds its
	// lease ("" while none does) and its progress.
	Running(ctx context.Context, limit int) ([]Running, error)
	// Retry makes a FAILED record IN_PROGRESS again, pending and counted in
	// its lane's backlog, for a new attempt of the same job, and returns
	// it. Any other record is returned as it is, with ErrNotFailed: a
	// second Retry of the same failure is not a second attempt.
	Retry(ctx context.Context, id string) (job.Record, error)
}

// Running is a job in progress and the worker holding its lease.
type Running struct {
	Record job.Record
	Worker string
}

// ErrNotFailed reports a Retry of a record that is not FAILED.
var ErrNotFailed = errors.New("store: record is not FAILED")

func (r *Redis) Running(ctx context.Context, limit int) ([]Running, error) {
	ids, err := r.client.ZRange(ctx, r.pendingKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, translate(err)
	}
	pipe := r.client.Pipeline()
	recs, leases, progress := make([]*redis.StringCmd, len(ids)), make([]*redis.StringCmd, len(ids)), make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		recs[i], leases[i], progress[i] = pipe.Get(ctx, r.Key(id)), pipe.Get(ctx, r.leaseKey(id)), pipe.Get(ctx, r.progressKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, translate(err)
	}
	var out []Running
	for i, id := range ids {
		rec, err := decode(id, recs[i])
		if err != nil || rec.Status != job.InProgress {
			continue // gone or final meanwhile
		}
		if f, err := progress[i].Float64(); err == nil {
			rec.Progress = &f
		}
		out = append(out, Running{Record: rec, Worker: leases[i].Val()})
	}
	sortRunning(out)
	return out, nil
}

func sortRunning(rs []Running) {
	slices.SortFunc(rs, func(a, b Running) int {
		return cmp.Or(a.Record.CreatedAt.Compare(b.Record.CreatedAt), cmp.Compare(a.Record.RequestID, b.Record.RequestID))
	})
}

// retryFailed replaces the record (KEYS[1]) with ARGV[2], with no expiry,
// only while it is still byte for byte ARGV[1].
var retryFailed = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

func (r *Redis) Retry(ctx context.Context, id string) (job.Record, error) {
	for {
		get := r.client.Get(ctx, r.Key(id))
		cur, err := decode(id, get)
		if err != nil {
			return job.Record{}, err
		}
		if cur.Status != job.Failed {
			return cur, ErrNotFailed
		}
		again := job.Pending(cur.Job)
		data, err := encode(again)
		if err != nil {
			return job.Record{}, err
		}
		n, err := retryFailed.Run(ctx, r.client, []string{r.Key(id)}, get.Val(), data).Int()
		switch {
		case err != nil:
			return job.Record{}, translate(err)
		case n == 0:
			continue // changed meanwhile (expired, or retried): read it again
		}
		pipe := r.client.Pipeline()
		pipe.ZAdd(ctx, r.pendingKey(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: id})
		backlogAdd.Eval(ctx, pipe, r.backlogKeys(again.Lane), id, again.Planned().Estimate.Milliseconds())
		pipe.Publish(ctx, r.eventsChannel(), id)
		_, err = pipe.Exec(ctx)
		return again, translate(err)
	}
}

func encode(rec job.Record) ([]byte, error) {
	data, err := rec.MarshalJSON() // not json.Marshal, which would check and copy its output
	if err != nil {
		return nil, fmt.Errorf("store: encode %s: %w", rec.RequestID, err)
	}
	return data, nil
}

func (m *Memory) Running(_ context.Context, limit int) ([]Running, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Running
	for id := range m.pending {
		e, ok := m.record(id)
		if !ok || e.rec.Status != job.InProgress {
			continue
		}
		rec := e.rec
		if f, ok := m.progress[id]; ok {
			rec.Progress = &f
		}
		var worker string
		if l, ok := m.leases[id]; ok && m.now().Before(l.until) {
			worker = l.owner
		}
		out = append(out, Running{Record: rec, Worker: worker})
	}
	sortRunning(out)
	return out[:min(limit, len(out))], nil
}

func (m *Memory) Retry(_ context.Context, id string) (job.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.record(id)
	switch {
	case !ok || e.rec.Status == job.Rejected:
		return job.Record{}, ErrNotFound
	case e.rec.Status != job.Failed:
		return e.rec, ErrNotFailed
	}
	again := job.Pending(e.rec.Job)
	m.records[id] = entry{rec: again}
	m.pending[id] = m.now()
	m.backlog[id] = backlogEntry{again.Lane, again.Planned().Estimate}
	m.announce(Change{ID: id})
	return again, nil
}
