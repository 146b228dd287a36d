package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/queue"
)

// TestReplayAll: every dead letter whose job is FAILED gets one new
// attempt, published in one batch; the rest are counted as left alone,
// and a second replay finds nothing to do.
func TestReplayAll(t *testing.T) {
	t.Parallel()
	b, _, _ := specServer(t)
	ctx := context.Background()
	var failed []string
	for i, id := range []string{"0d4a3f6e-1b2c-4d5e-8f90-a1b2c3d4e5f6", "1d4a3f6e-1b2c-4d5e-8f90-a1b2c3d4e5f6", someID} {
		j := job.Job{RequestID: id, A: 1, B: 10, CreatedAt: time.Now()}
		_ = b.store.Create(ctx, job.Pending(j))
		final := j.Failed("past the worker's limit", time.Now())
		if i == 2 {
			final = j.Finished("17", time.Now()) // finished meanwhile: left alone
		} else {
			failed = append(failed, id)
		}
		_ = b.store.Put(ctx, final)
		b.ops.letters = append(b.ops.letters, queue.DeadLetter{ID: fmt.Sprint("0-", i), Key: id, Job: &j})
	}
	b.ops.letters = append(b.ops.letters, queue.DeadLetter{ID: "0-9", Key: "junk"}) // not a job
	for round, want := range []string{`{"replayed":2,"skipped":2}`, `{"replayed":0,"skipped":4}`} {
		rec := b.do(t, http.MethodPost, "/admin/dead-letters/replay", "", "", "Authorization", "Bearer "+rootKey)
		if rec.Code != http.StatusOK || rec.Body.String() != want+"\n" {
			t.Fatalf("round %d: %d %s, want %s", round, rec.Code, rec.Body, want)
		}
	}
	if len(b.queue.published) != 2 || b.queue.published[0].RequestID != failed[0] || b.queue.published[1].RequestID != failed[1] {
		t.Fatalf("published %+v, want the two failed jobs once each", b.queue.published)
	}
	for _, id := range failed {
		if rec, _ := b.store.Get(ctx, id); rec.Status != job.InProgress {
			t.Fatalf("%s is %s after the replay, want IN_PROGRESS", id, rec.Status)
		}
	}
}
