package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tasks keeps a scattered job's parts: the job is computed as tasks, each
// task's part is stored once under the job, and whoever stores the last
// one gathers them. Get shows how many tasks there are and how many are
// done while the job is IN_PROGRESS.
type Tasks interface {
	// Scatter records that id is computed as n tasks whose estimates add
	// up to total, and returns the indexes whose parts are stored already
	// and the number of tasks: the first call's numbers stand.
	Scatter(ctx context.Context, id string, n int, total time.Duration) (stored []int, tasks int, err error)
	// PutPart stores task index's part of id, unless one is stored
	// already (a redelivered task's part stays as first written), and
	// returns how many parts are in.
	PutPart(ctx context.Context, id string, index int, part []byte, estimate time.Duration) (TaskCount, error)
	// Parts returns the parts stored for id, by task index.
	Parts(ctx context.Context, id string) (map[int][]byte, error)
}

// TaskCount is how far a scattered job has got: Done of Of tasks, and the
// share of its estimated cost they carried. Of is 0 when the job was never
// scattered, or has settled since.
type TaskCount struct {
	Done, Of int
	Share    float64
}

// Complete reports whether every task's part is in.
func (c TaskCount) Complete() bool { return c.Of > 0 && c.Done >= c.Of }

// partsTTL bounds how long a scattered job's parts outlive their last
// write: the job settles long before (and settling deletes them), unless
// it is abandoned.
const partsTTL = 24 * time.Hour

func (r *Redis) tasksKey(id string) string { return r.prefix + "tasks:" + id }

func partField(i int) string { return "p:" + strconv.Itoa(i) }

func (r *Redis) Scatter(ctx context.Context, id string, n int, total time.Duration) ([]int, int, error) {
	key := r.tasksKey(id)
	pipe := r.client.Pipeline()
	pipe.HSetNX(ctx, key, "n", n)
	pipe.HSetNX(ctx, key, "ms", max(1, total.Milliseconds()))
	pipe.PExpire(ctx, key, partsTTL)
	fields := pipe.HKeys(ctx, key)
	count := pipe.HGet(ctx, key, "n")
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, translate(err)
	}
	tasks, err := count.Int()
	if err != nil {
		return nil, 0, translate(err)
	}
	var stored []int
	for _, f := range fields.Val() {
		if i, err := strconv.Atoi(strings.TrimPrefix(f, "p:")); err == nil && strings.HasPrefix(f, "p:") {
			stored = append(stored, i)
		}
	}
	return stored, tasks, nil
}

// putPart stores a part once and counts it, and answers the counts: done,
// n, the done tasks' estimates and the total (ms). KEYS[1] is the job's
// tasks hash; ARGV the field, the part, its estimate (ms) and the TTL.
var putPart = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'done', 1)
  redis.call('HINCRBY', KEYS[1], 'doneMs', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('HMGET', KEYS[1], 'done', 'n', 'doneMs', 'ms')
`)

func (r *Redis) PutPart(ctx context.Context, id string, index int, part []byte, estimate time.Duration) (TaskCount, error) {
	vals, err := putPart.Run(ctx, r.client, []string{r.tasksKey(id)}, partField(index), part, estimate.Milliseconds(), partsTTL.Milliseconds()).Slice()
	if err != nil {
		return TaskCount{}, translate(err)
	}
	num := func(i int) int64 {
		s, _ := vals[i].(string)
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	c := TaskCount{Done: int(num(0)), Of: int(num(1))}
	if ms := num(3); ms > 0 {
		c.Share = min(1, float64(num(2))/float64(ms))
	}
	return c, nil
}

func (r *Redis) Parts(ctx context.Context, id string) (map[int][]byte, error) {
	all, err := r.client.HGetAll(ctx, r.tasksKey(id)).Result()
	if err != nil {
		return nil, translate(err)
	}
	parts := map[int][]byte{}
	for f, v := range all {
		if i, err := strconv.Atoi(strings.TrimPrefix(f, "p:")); err == nil && strings.HasPrefix(f, "p:") {
			parts[i] = []byte(v)
		}
	}
	return parts, nil
}

// taskCounts reads n and done from a tasks hash's HMGET reply.
func taskCounts(cmd *redis.SliceCmd) (of, done int) {
	vals, err := cmd.Result()
	if err != nil && !errors.Is(err, redis.Nil) || len(vals) < 2 {
		return 0, 0
	}
	for i, p := range []*int{&of, &done} {
		s, _ := vals[i].(string)
		*p, _ = strconv.Atoi(s)
	}
	return of, done
}

// memoryTasks is one scattered job's tasks in a Memory.
type memoryTasks struct {
	n             int
	total, doneIn time.Duration
	parts         map[int][]byte
}

func (m *Memory) Scatter(_ context.Context, id string, n int, total time.Duration) ([]int, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.tasksOf(id)
	if ts.n == 0 {
		ts.n, ts.total = n, max(time.Millisecond, total)
	}
	var stored []int
	for i := range ts.parts {
		stored = append(stored, i)
	}
	return stored, ts.n, nil
}

// tasksOf returns id's tasks, made empty if there are none; the caller
// holds mu.
func (m *Memory) tasksOf(id string) *memoryTasks {
	ts := m.tasks[id]
	if ts == nil {
		ts = &memoryTasks{parts: map[int][]byte{}}
		m.tasks[id] = ts
	}
	return ts
}

func (m *Memory) PutPart(_ context.Context, id string, index int, part []byte, estimate time.Duration) (TaskCount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.tasksOf(id)
	if _, ok := ts.parts[index]; !ok {
		ts.parts[index] = append([]byte(nil), part...)
		ts.doneIn += estimate.Truncate(time.Millisecond)
	}
	c := TaskCount{Done: len(ts.parts), Of: ts.n}
	if ts.total > 0 {
		c.Share = min(1, float64(ts.doneIn)/float64(ts.total.Truncate(time.Millisecond)))
	}
	return c, nil
}

func (m *Memory) Parts(_ context.Context, id string) (map[int][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := map[int][]byte{}
	if ts := m.tasks[id]; ts != nil {
		for i, p := range ts.parts {
			parts[i] = append([]byte(nil), p...)
		}
	}
	return parts, nil
}
