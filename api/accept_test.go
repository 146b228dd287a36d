package api

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// batchQueue keeps each PublishAll call's jobs.
type batchQueue struct{ calls [][]job.Job }

func (q *batchQueue) PublishAll(_ context.Context, jobs []job.Job) []error {
	q.calls = append(q.calls, jobs)
	return make([]error, len(jobs))
}

func (q *batchQueue) Ping(context.Context) error { return nil }

// TestAcceptedTogetherShareAPartitionKey: submits settled in one batch name
// its first job, in the record and the message alike, so they go to one
// partition; a job accepted alone names none and is hashed by its own id.
func TestAcceptedTogetherShareAPartitionKey(t *testing.T) {
	s, q := store.NewMemory(3*time.Minute, nil), &batchQueue{}
	a := &acceptor{store: s, queue: q, timeout: time.Minute, log: slog.New(slog.DiscardHandler)}
	settle := func(n int) []*submission {
		var batch []*submission
		for range n {
			batch = append(batch, &submission{j: job.New(1, 10, primes.PlanRange(1, 10), "", time.Now(), ""), done: make(chan error, 1)})
		}
		a.settle(batch)
		for _, sub := range batch {
			if err := <-sub.done; err != nil {
				t.Fatal(err)
			}
		}
		return batch
	}
	batch := settle(3)
	first := batch[0].j.RequestID
	for i, j := range q.calls[0] {
		rec, err := s.Get(context.Background(), j.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if j.Batch != first || rec.Batch != first || j.PartitionKey() != first {
			t.Fatalf("job %d of a batch of 3: message batch %q, record batch %q; want both %q", i, j.Batch, rec.Batch, first)
		}
	}
	alone := settle(1)[0].j
	if alone.Batch != "" || alone.PartitionKey() != alone.RequestID {
		t.Fatalf("a job accepted alone names batch %q; want none, its partition key its own id", alone.Batch)
	}
}
