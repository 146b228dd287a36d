package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// Listing lists the jobs of the retention window, newest first.
type Listing interface {
	// List returns up to q.Limit records of jobs created within the result
	// TTL, newest first: q.Owner's (every owner's when q.Owner is ""),
	// with status q.Status when it is set, from after q.After (a cursor an
	// earlier page returned; "" for the first page). next is the cursor of
	// the following page, "" after the last.
	List(ctx context.Context, q ListQuery) (recs []job.Record, next string, err error)
}

// ListQuery selects a page of List.
type ListQuery struct {
	Owner  string
	Status job.Status
	Limit  int
	After  string
}

// ErrCursor reports a cursor List did not make.
var ErrCursor = errors.New("store: not a page cursor")

// listEntry is a job's place in a listing: its creation time in
// milliseconds, zero-padded so that entries sort as strings, and its id.
// The Redis index is a sorted set of these under one score, read by
// lexicographic range: ties in time cannot skip or repeat an entry.
func listEntry(rec job.Record) string {
	return fmt.Sprintf("%013d:%s", rec.CreatedAt.UnixMilli(), rec.RequestID)
}

// entryID returns the id of a listEntry.
func entryID(e string) string { _, id, _ := strings.Cut(e, ":"); return id }

// checkCursor accepts "" or a listEntry.
func checkCursor(c string) error {
	ms, id, ok := strings.Cut(c, ":")
	if _, err := strconv.ParseUint(ms, 10, 64); c != "" && (!ok || len(ms) != 13 || err != nil || id == "") {
		return ErrCursor
	}
	return nil
}

// listMatches reports whether rec belongs on the page q asks for.
func listMatches(rec job.Record, q ListQuery) bool {
	return rec.Status != job.Rejected && (q.Status == "" || rec.Status == q.Status)
}

func (r *Redis) listKey(owner string) string {
	if owner == "" {
		return r.prefix + "list"
	}
	return r.prefix + "list:" + owner
}

// indexForList adds recs to the listings (everyone's and their owners'),
// in the pipeline that creates them, and drops from those listings what
// was created before the retention window; a listing nothing is added to
// for that long goes too, with its last entries.
func (r *Redis) indexForList(ctx context.Context, pipe redis.Pipeliner, recs []job.Record) {
	cutoff := fmt.Sprintf("(%013d", time.Now().Add(-r.ttl).UnixMilli())
	entries := map[string][]redis.Z{}
	for _, rec := range recs {
		z := redis.Z{Member: listEntry(rec)}
		entries[r.listKey("")] = append(entries[r.listKey("")], z)
		if rec.Owner != "" {
			entries[r.listKey(rec.Owner)] = append(entries[r.listKey(rec.Owner)], z)
		}
	}
	for key, zs := range entries {
		pipe.ZAdd(ctx, key, zs...)
		pipe.ZRemRangeByLex(ctx, key, "-", cutoff)
		pipe.PExpire(ctx, key, r.ttl)
	}
}

// List reads the listing a page at a time: a range of entries, then their
// records in one pipeline (keys in any slot of a Cluster); entries whose
// record has expired leave the listing as they are met.
func (r *Redis) List(ctx context.Context, q ListQuery) ([]job.Record, string, error) {
	if err := checkCursor(q.After); err != nil {
		return nil, "", err
	}
	key, after, out := r.listKey(q.Owner), q.After, []job.Record{}
	for range 16 { // bounded work for a sparse status
		start := "+"
		if after != "" {
			start = "(" + after
		}
		entries, err := r.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: start, Stop: "-", ByLex: true, Rev: true, Count: int64(q.Limit)}).Result()
		if err != nil {
			return nil, "", translate(err)
		}
		recs, err := r.listed(ctx, key, entries)
		if err != nil {
			return nil, "", err
		}
		for i, e := range entries {
			after = e
			if recs[i] != nil && listMatches(*recs[i], q) {
				if out = append(out, *recs[i]); len(out) < q.Limit {
					continue
				}
				if i < len(entries)-1 { // the batch shows more follow
					return out, e, nil
				}
				return out, r.nextAfter(ctx, key, e), nil
			}
		}
		if len(entries) < q.Limit {
			return out, "", nil
		}
	}
	return out, after, nil
}

// listed reads the records of entries, with the progress of those in
// progress; nil where one has expired or was rejected (its entry is
// dropped).
func (r *Redis) listed(ctx context.Context, key string, entries []string) ([]*job.Record, error) {
	pipe := r.client.Pipeline()
	gets, progress := make([]*redis.StringCmd, len(entries)), make([]*redis.StringCmd, len(entries))
	for i, e := range entries {
		gets[i] = pipe.Get(ctx, r.Key(entryID(e)))
		progress[i] = pipe.Get(ctx, r.progressKey(entryID(e)))
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	recs := make([]*job.Record, len(entries))
	var gone []any
	for i, g := range gets {
		rec, err := decode(entryID(entries[i]), g)
		switch {
		case errors.Is(err, ErrNotFound):
			gone = append(gone, entries[i])
			continue
		case err != nil:
			return nil, err
		}
		if f, err := progress[i].Float64(); err == nil && rec.Status == job.InProgress {
			rec.Progress = &f
		}
		recs[i] = &rec
	}
	if len(gone) > 0 {
		r.client.ZRem(ctx, key, gone...)
	}
	return recs, nil
}

// nextAfter is the cursor after entry e, or "" when nothing follows it.
func (r *Redis) nextAfter(ctx context.Context, key, e string) string {
	more, err := r.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: "(" + e, Stop: "-", ByLex: true, Rev: true, Count: 1}).Result()
	if err == nil && len(more) == 0 {
		return ""
	}
	return e
}

// List pages through Memory's records as Redis's listing does.
func (m *Memory) List(_ context.Context, q ListQuery) ([]job.Record, string, error) {
	if err := checkCursor(q.After); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cutoff := fmt.Sprintf("%013d", m.now().Add(-m.ttl).UnixMilli())
	var entries []string
	for id := range m.records {
		if e, ok := m.record(id); ok && (q.Owner == "" || e.rec.Owner == q.Owner) {
			if le := listEntry(e.rec); le >= cutoff && (q.After == "" || le < q.After) && listMatches(e.rec, q) {
				entries = append(entries, le)
			}
		}
	}
	slices.SortFunc(entries, func(a, b string) int { return strings.Compare(b, a) })
	next := ""
	if len(entries) > q.Limit {
		entries, next = entries[:q.Limit], entries[q.Limit-1]
	}
	out := make([]job.Record, len(entries))
	for i, e := range entries {
		rec := m.records[entryID(e)].rec
		if f, ok := m.progress[rec.RequestID]; ok && rec.Status == job.InProgress {
			rec.Progress = &f
		}
		out[i] = rec
	}
	return out, next, nil
}
