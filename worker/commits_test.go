package worker

import (
	"fmt"
	"testing"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/queue"
)

func msg(partition int, offset int64) queue.Message {
	return queue.Message{Partition: partition, Offset: offset}
}

// TestCommitsOnlyPastWhatIsAllDone: messages finish in any order; the
// commit moves only past an unbroken run of finished ones.
func TestCommitsOnlyPastWhatIsAllDone(t *testing.T) {
	c := newCommits()
	for _, m := range []queue.Message{msg(0, 10), msg(0, 11), msg(0, 12), msg(1, 5)} {
		c.fetched(m)
	}
	step := func(m queue.Message, want string) {
		t.Helper()
		last, ok := c.finished(m)
		got := "none"
		if ok {
			got = fmt.Sprint(last.Partition, "@", last.Offset)
		}
		if got != want {
			t.Fatalf("finishing %d@%d commits %s, want %s", m.Partition, m.Offset, got, want)
		}
	}
	step(msg(0, 12), "none") // 10 and 11 still running
	step(msg(1, 5), "1@5")   // partitions are independent
	step(msg(0, 10), "0@10")
	step(msg(0, 11), "0@12") // closes the gap: past 12 at once
	step(msg(0, 11), "none") // a second report changes nothing
}

// TestCommitsForgetAnEarlierAssignment: a partition handed back after a
// rebalance starts over; late reports from before count for nothing.
func TestCommitsForgetAnEarlierAssignment(t *testing.T) {
	c := newCommits()
	c.fetched(msg(0, 10))
	c.fetched(msg(0, 11))
	c.fetched(msg(0, 10)) // redelivered from the committed offset
	if _, ok := c.finished(msg(0, 11)); ok {
		t.Fatal("a report from the old assignment committed")
	}
	if last, ok := c.finished(msg(0, 10)); !ok || last.Offset != 10 {
		t.Fatalf("finished = %v, %v; want a commit past 10", last.Offset, ok)
	}
}

// TestFairServesClientsInTurn: a client with many jobs waiting gets one
// turn per round, as does a client with one.
func TestFairServesClientsInTurn(t *testing.T) {
	f := newFair()
	push := func(owner string, n int) {
		for i := range n {
			f.push(&task{msg: queue.Message{Offset: int64(i), Job: job.Job{Owner: owner, RequestID: fmt.Sprint(owner, i)}}})
		}
	}
	push("a", 4)
	push("b", 1)
	push("c", 2)
	var order []string
	for range 7 {
		tk, ok := f.pop()
		if !ok {
			t.Fatal("pop failed with jobs waiting")
		}
		order = append(order, tk.msg.Job.RequestID)
	}
	if got := fmt.Sprint(order); got != "[a0 b0 c0 a1 c1 a2 a3]" {
		t.Fatalf("order = %s, want each client in turn", got)
	}
	push("a", 1)
	if left := f.close(); len(left) != 1 {
		t.Fatalf("close returned %d waiting jobs, want 1", len(left))
	}
	if _, ok := f.pop(); ok {
		t.Fatal("pop after close succeeded")
	}
}
