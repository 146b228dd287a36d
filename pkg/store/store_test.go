package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/store"
)

type testBundle struct {
	store *store.Redis
	ctx   context.Context
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	rdb := testenv.Redis(t)
	return &testBundle{
		store: store.NewRedis(rdb, "sumprimes-test:"+testenv.Unique()+":", 3*time.Minute),
		ctx:   context.Background(),
	}
}

func pending(id string) job.Record {
	return job.Pending(job.Job{RequestID: id, A: 1, B: 10, SubmittedAt: time.Now().UTC()})
}

func TestRedis(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsWhatWasCreated", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		want := pending("id-1")
		if err := b.store.Create(b.ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := b.store.Get(b.ctx, "id-1")
		if err != nil || got.RequestID != want.RequestID || got.Status != job.InProgress || got.B != 10 {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("RefusesToCreateAnIDTwice", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_ = b.store.Create(b.ctx, pending("id-1"))
		if err := b.store.Create(b.ctx, pending("id-1")); !errors.Is(err, store.ErrExists) {
			t.Fatalf("second Create = %v, want ErrExists", err)
		}
	})

	t.Run("TranslatesAMissingKeyToErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if _, err := b.store.Get(b.ctx, "never-written"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get = %v, want ErrNotFound", err)
		}
	})

	t.Run("PutReplacesAndIsIdempotent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := job.Job{RequestID: "id-1", A: 1, B: 10, SubmittedAt: time.Now().UTC()}
		_ = b.store.Create(b.ctx, job.Pending(j))
		done := j.Finished("17", time.Now().UTC())
		for range 2 {
			if err := b.store.Put(b.ctx, done); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := b.store.Get(b.ctx, "id-1")
		if got.Status != job.Finished || got.Payload == nil || *got.Payload != "17" {
			t.Fatalf("Get = %+v, want FINISHED 17", got)
		}
	})

	t.Run("NeverReplacesFinishedWithFailed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := job.Job{RequestID: "id-1", A: 1, B: 10, SubmittedAt: time.Now().UTC()}
		_ = b.store.Put(b.ctx, j.Finished("17", time.Now().UTC()))
		if err := b.store.Put(b.ctx, j.Failed("gave up", time.Now().UTC())); !errors.Is(err, store.ErrFinal) {
			t.Fatalf("FAILED over FINISHED = %v, want ErrFinal", err)
		}
		if got, _ := b.store.Get(b.ctx, "id-1"); got.Status != job.Finished {
			t.Fatalf("status = %s, want FINISHED kept", got.Status)
		}
		// The other way round, a late FINISHED replaces FAILED.
		_ = b.store.Put(b.ctx, j.Failed("gave up", time.Now().UTC()))
		_ = b.store.Put(b.ctx, pending("id-2"))
		_ = b.store.Put(b.ctx, job.Job{RequestID: "id-2"}.Failed("gave up", time.Now().UTC()))
		_ = b.store.Put(b.ctx, job.Job{RequestID: "id-2"}.Finished("5", time.Now().UTC()))
		if got, _ := b.store.Get(b.ctx, "id-2"); got.Status != job.Finished {
			t.Fatalf("status = %s, want a late FINISHED to win", got.Status)
		}
	})

	t.Run("KeepsPendingRecordsAndExpiresFinalOnesAfterTheTTL", func(t *testing.T) {
		t.Parallel()
		rdb := testenv.Redis(t)
		s := store.NewRedis(rdb, "sumprimes-test:"+testenv.Unique()+":", 3*time.Minute)
		ctx := context.Background()
		j := job.Job{RequestID: "id-1", A: 1, B: 10, SubmittedAt: time.Now().UTC()}
		if err := s.Create(ctx, job.Pending(j)); err != nil {
			t.Fatal(err)
		}
		if ttl := rdb.TTL(ctx, s.Key("id-1")).Val(); ttl != -1 {
			t.Fatalf("pending record TTL = %s, want none (-1)", ttl)
		}
		for _, rec := range []job.Record{j.Failed("x", time.Now()), j.Finished("17", time.Now())} {
			if err := s.Put(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if ttl := rdb.TTL(ctx, s.Key("id-1")).Val(); ttl < 170*time.Second || ttl > 180*time.Second {
				t.Fatalf("%s record TTL = %s, want about 3m", rec.Status, ttl)
			}
		}
	})

	t.Run("ListsPendingJobsUntilTheyAreFinal", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := time.Now().Add(-time.Hour)
		j := job.Job{RequestID: "id-1", A: 1, B: 10, SubmittedAt: old}
		_ = b.store.Create(b.ctx, job.Pending(j))
		if ids, _ := b.store.Stale(b.ctx, time.Now(), 10); len(ids) != 1 || ids[0] != "id-1" {
			t.Fatalf("stale = %v, want [id-1]", ids)
		}
		if ids, _ := b.store.Stale(b.ctx, old.Add(-time.Minute), 10); len(ids) != 0 {
			t.Fatalf("stale before submission = %v, want none", ids)
		}
		_ = b.store.Touch(b.ctx, "id-1", time.Now().Add(time.Minute))
		if ids, _ := b.store.Stale(b.ctx, time.Now(), 10); len(ids) != 0 {
			t.Fatalf("stale after Touch = %v, want none", ids)
		}
		_ = b.store.Put(b.ctx, j.Finished("17", time.Now()))
		if n, _ := b.store.Pending(b.ctx); n != 0 {
			t.Fatalf("pending after FINISHED = %d, want 0", n)
		}
	})

	t.Run("HoldsLeasesUntilTheJobIsFinal", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := job.Job{RequestID: "id-1", A: 1, B: 10, SubmittedAt: time.Now()}
		_ = b.store.Create(b.ctx, job.Pending(j))
		if leased, _ := b.store.Leased(b.ctx, "id-1"); leased {
			t.Fatal("leased before any worker took it")
		}
		_ = b.store.Lease(b.ctx, "id-1", "worker-a", time.Minute)
		if leased, _ := b.store.Leased(b.ctx, "id-1"); !leased {
			t.Fatal("not leased after Lease")
		}
		_ = b.store.Put(b.ctx, j.Finished("17", time.Now()))
		if leased, _ := b.store.Leased(b.ctx, "id-1"); leased {
			t.Fatal("still leased after FINISHED")
		}
	})

	t.Run("CountsAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for want := 1; want <= 3; want++ {
			if got, err := b.store.Attempt(b.ctx, "id-1"); err != nil || got != want {
				t.Fatalf("Attempt = %d, %v; want %d", got, err, want)
			}
		}
	})

	t.Run("LetsOneJanitorLeadAtATime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if ok, err := b.store.Lead(b.ctx, "a", time.Minute); err != nil || !ok {
			t.Fatalf("a Lead = %v, %v", ok, err)
		}
		if ok, _ := b.store.Lead(b.ctx, "b", time.Minute); ok {
			t.Fatal("b took a live lock held by a")
		}
		if ok, _ := b.store.Lead(b.ctx, "a", time.Minute); !ok {
			t.Fatal("a could not renew its own lock")
		}
		_ = b.store.Resign(b.ctx, "b") // not b's: no effect
		if ok, _ := b.store.Lead(b.ctx, "b", time.Minute); ok {
			t.Fatal("b's Resign freed a's lock")
		}
		_ = b.store.Resign(b.ctx, "a")
		if ok, _ := b.store.Lead(b.ctx, "b", time.Minute); !ok {
			t.Fatal("b could not lead after a resigned")
		}
	})

	t.Run("DeleteRemovesTheRecord", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_ = b.store.Create(b.ctx, pending("id-1"))
		if err := b.store.Delete(b.ctx, "id-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Get(b.ctx, "id-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := b.store.Delete(b.ctx, "id-1"); err != nil {
			t.Fatalf("deleting a missing record = %v, want nil", err)
		}
	})

	t.Run("ClaimsAKeyOnceUntilUnclaimed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := store.Claim{RequestID: "id-1", Fingerprint: "fp-1"}
		if got, ok, err := b.store.Claim(b.ctx, "client:key", first); err != nil || !ok || got != first {
			t.Fatalf("first Claim = %+v, %v, %v", got, ok, err)
		}
		got, ok, err := b.store.Claim(b.ctx, "client:key", store.Claim{RequestID: "id-2", Fingerprint: "fp-2"})
		if err != nil || ok || got != first {
			t.Fatalf("second Claim = %+v, %v, %v; want the first claim back", got, ok, err)
		}
		if err := b.store.Unclaim(b.ctx, "client:key"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.store.Claim(b.ctx, "client:key", store.Claim{RequestID: "id-3"}); !ok {
			t.Fatal("Claim after Unclaim refused")
		}
	})

	t.Run("CancelsOnlyJobsInProgressAndTellsTheWorkers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, stop := context.WithCancel(b.ctx)
		defer stop()
		cancellations, changes := b.store.Cancellations(ctx), b.store.Changes(ctx)
		j := job.Job{RequestID: "id-1", A: 1, B: 10, SubmittedAt: time.Now().UTC()}
		_ = b.store.Create(b.ctx, job.Pending(j))
		rec, err := b.store.Cancel(b.ctx, "id-1")
		if err != nil || rec.Status != job.Cancelled || rec.FinishedAt == nil {
			t.Fatalf("Cancel = %+v, %v; want CANCELLED", rec, err)
		}
		if id := <-cancellations; id != "id-1" {
			t.Fatalf("cancellation of %q, want id-1", id)
		}
		if id := <-changes; id != "id-1" {
			t.Fatalf("change of %q, want id-1", id)
		}
		if _, err := b.store.Cancel(b.ctx, "id-1"); !errors.Is(err, store.ErrFinal) {
			t.Fatalf("second Cancel = %v, want ErrFinal", err)
		}
		_ = b.store.Put(b.ctx, j.Finished("17", time.Now())) // a worker finishing late
		if got, _ := b.store.Get(b.ctx, "id-1"); got.Status != job.Cancelled {
			t.Fatalf("status = %s, want CANCELLED to stand", got.Status)
		}
		if _, err := b.store.Cancel(b.ctx, "never"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Cancel of an unknown id = %v, want ErrNotFound", err)
		}
	})

	t.Run("ShowsProgressWhileInProgressOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := job.Job{RequestID: "id-1", A: 1, B: 10, SubmittedAt: time.Now().UTC()}
		_ = b.store.Create(b.ctx, job.Pending(j))
		_ = b.store.SetProgress(b.ctx, "id-1", 0.25)
		if got, _ := b.store.Get(b.ctx, "id-1"); got.Progress == nil || *got.Progress != 0.25 {
			t.Fatalf("progress = %v, want 0.25", got.Progress)
		}
		_ = b.store.Put(b.ctx, j.Finished("17", time.Now()))
		if got, _ := b.store.Get(b.ctx, "id-1"); got.Progress != nil {
			t.Fatalf("progress of a finished job = %v, want none", *got.Progress)
		}
	})

	t.Run("ReportsAnUnreachableServer", func(t *testing.T) {
		t.Parallel()
		var cfg = testenv.Config(t).Redis
		cfg.Addrs = []string{"127.0.0.1:1"}
		s := store.NewRedis(store.NewClient(cfg), "x:", time.Minute)
		if err := s.Ping(context.Background()); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Ping = %v, want a connection error", err)
		}
	})
}
