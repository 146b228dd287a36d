package worker

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/sumprimes/sumprimes/pkg/queue"
)

// commits tracks, per partition, the messages fetched and not yet done, so
// that messages can finish in any order while the committed offset only
// ever moves past messages that are all done: the highest offset below
// which everything is stored (or skipped, or dead-lettered). A crash then
// redelivers at most the messages from the lowest unfinished one on, and
// those already final are skipped.
type commits struct {
	mu    sync.Mutex
	parts map[int]*partition
}

// partition lists one partition's messages in fetch order (offsets rise).
type partition struct {
	msgs []queue.Message
	done []bool
}

func newCommits() *commits { return &commits{parts: map[int]*partition{}} }

// fetched registers m before it is handed out. An offset at or below the
// last one fetched means the partition was handed back to this member
// after a rebalance: what was tracked for it belongs to the old
// assignment, whose commits the group refuses anyway, so it is dropped.
func (c *commits) fetched(m queue.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[m.Partition]
	if p == nil || len(p.msgs) > 0 && p.msgs[len(p.msgs)-1].Offset >= m.Offset {
		p = &partition{}
		c.parts[m.Partition] = p
	}
	p.msgs = append(p.msgs, m)
	p.done = append(p.done, false)
}

// finished marks m done and returns the message to commit, if the done
// prefix of its partition grew: the last of that prefix.
func (c *commits) finished(m queue.Message) (queue.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[m.Partition]
	if p == nil {
		return queue.Message{}, false
	}
	i := sort.Search(len(p.msgs), func(i int) bool { return p.msgs[i].Offset >= m.Offset })
	if i == len(p.msgs) || p.msgs[i].Offset != m.Offset {
		return queue.Message{}, false // from an earlier assignment
	}
	p.done[i] = true
	n := 0
	for n < len(p.done) && p.done[n] {
		n++
	}
	if n == 0 {
		return queue.Message{}, false
	}
	last := p.msgs[n-1]
	p.msgs, p.done = p.msgs[n:], p.done[n:]
	return last, true
}

// committer sends commits from a goroutine of its own, the latest per
// partition: a commit past offset N covers every earlier one, so while one
// is held (kafka-go holds them while the group rebalances) later ones
// replace it rather than queue behind it.
type committer struct {
	mu      sync.Mutex
	pending map[int]queue.Message
	wake    chan struct{}
	ctx     context.Context // ends at stop, freeing a commit kafka-go holds
	stop    context.CancelFunc
}

func newCommitter() *committer {
	ctx, stop := context.WithCancel(context.Background())
	return &committer{pending: map[int]queue.Message{}, wake: make(chan struct{}, 1), ctx: ctx, stop: stop}
}

// add asks for a commit past m.
func (c *committer) add(m queue.Message) {
	c.keep(m)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// commitWait bounds the last commits at shutdown, before the reader closes
// (kafka-go's Close flushes what it holds).
const commitWait = 5 * time.Second

// keep holds a commit past m unless one past a later offset is held.
func (c *committer) keep(m queue.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pending[m.Partition]; !ok || p.Offset < m.Offset {
		c.pending[m.Partition] = m
	}
}

// run sends commits until stop is called, then what is pending a last
// time, within commitWait, and returns.
func (c *committer) run(consumer queue.Consumer, log *slog.Logger) {
	for {
		select {
		case <-c.wake:
			c.flush(c.ctx, consumer, log)
		case <-c.ctx.Done():
			ctx, cancel := context.WithTimeout(context.Background(), commitWait)
			defer cancel()
			c.flush(ctx, consumer, log)
			return
		}
	}
}

func (c *committer) flush(ctx context.Context, consumer queue.Consumer, log *slog.Logger) {
	c.mu.Lock()
	batch := c.pending
	c.pending = map[int]queue.Message{}
	c.mu.Unlock()
	for _, m := range batch {
		err := consumer.Commit(ctx, m)
		switch {
		case err == nil:
		case c.ctx.Err() != nil && ctx == c.ctx:
			c.keep(m) // stopping: the last flush tries it again
		default:
			// The group may have moved the partition; its new owner will see
			// the jobs again and find their results stored.
			log.Warn("commit failed; jobs may be delivered again", "partition", m.Partition, "offset", m.Offset, "error", err)
		}
	}
}
