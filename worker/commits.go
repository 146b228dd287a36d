package worker

import (
	"sort"
	"sync"

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
// assignment, whose commits the queue drops anyway (they belong to a
// generation that is over), so it is dropped here too.
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
