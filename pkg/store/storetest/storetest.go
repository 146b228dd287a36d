// Package storetest is the store's conformance suite: the same tests run
// against every implementation of store.Store (Redis on a real server, and
// the in-memory double), so that the double the unit tests rely on can
// never drift from the real rules. River's riverdrivertest is the model.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// TTL is the result TTL every Harness's store must be made with.
const TTL = 3 * time.Minute

// Harness is one implementation under test, fresh for each test.
type Harness struct {
	Store store.Store
	// RecordTTL returns how long the record for id has left to live, or
	// -1 when it never expires.
	RecordTTL func(id string) time.Duration
}

// Exercise runs the suite against the stores newHarness makes, each rule
// in a subtest of its own on a fresh store.
func Exercise(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) {
			t.Parallel()
			rule.check(t, newHarness(t))
		})
	}
}

// rules are the store's contract, one check each.
var rules = []struct {
	name  string
	check func(*testing.T, Harness)
}{
	{"ReturnsWhatWasCreated", returnsWhatWasCreated},
	{"RefusesToCreateAnIDTwice", refusesToCreateAnIDTwice},
	{"TranslatesAMissingRecordToErrNotFound", translatesAMissingRecordToErrNotFound},
	{"PutReplacesAndIsIdempotent", putReplacesAndIsIdempotent},
	{"NeverReplacesFinishedWithFailed", neverReplacesFinishedWithFailed},
	{"LetsALateFinishedReplaceFailed", letsALateFinishedReplaceFailed},
	{"KeepsPendingRecordsAndExpiresFinalOnesAfterTheTTL", keepsPendingRecordsAndExpiresFinalOnesAfterTheTTL},
	{"ListsPendingJobsUntilTheyAreFinal", listsPendingJobsUntilTheyAreFinal},
	{"ListsStaleJobsOldestFirstUpToTheLimit", listsStaleJobsOldestFirstUpToTheLimit},
	{"HoldsLeasesUntilTheJobIsFinal", holdsLeasesUntilTheJobIsFinal},
	{"CountsAttemptsUntilTheJobIsFinal", countsAttemptsUntilTheJobIsFinal},
	{"LetsOneJanitorLeadAtATime", letsOneJanitorLeadAtATime},
	{"DeleteRemovesTheRecordAndItsIndexEntry", deleteRemovesTheRecordAndItsIndexEntry},
	{"ClaimsAKeyOnceUntilUnclaimed", claimsAKeyOnceUntilUnclaimed},
	{"CancelsOnlyJobsInProgressAndTellsTheWorkers", cancelsOnlyJobsInProgressAndTellsTheWorkers},
	{"ShowsProgressWhileInProgressOnlyAndAnnouncesIt", showsProgressWhileInProgressOnlyAndAnnouncesIt},
	{"AnswersPing", answersPing},
}

var (
	ctx = context.Background()
	now = time.Now().UTC()
)

func newJob(id string) job.Job { return job.Job{RequestID: id, A: 1, B: 10, CreatedAt: now} }

func returnsWhatWasCreated(t *testing.T, h Harness) {
	s := h.Store
	want := job.Pending(newJob("id-1"))
	want.Plan = job.Plan{Engine: "sieve", Estimate: time.Millisecond}
	if err := s.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "id-1")
	if err != nil || got.RequestID != "id-1" || got.Status != job.InProgress || got.B != 10 || got.Plan != want.Plan {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
	}
}

func refusesToCreateAnIDTwice(t *testing.T, h Harness) {
	s := h.Store
	_ = s.Create(ctx, job.Pending(newJob("id-1")))
	if err := s.Create(ctx, job.Pending(newJob("id-1"))); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
}

func translatesAMissingRecordToErrNotFound(t *testing.T, h Harness) {
	s := h.Store
	if _, err := s.Get(ctx, "never-written"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
}

func putReplacesAndIsIdempotent(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	for range 2 {
		if err := s.Put(ctx, j.Finished("17", now)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.Get(ctx, "id-1"); got.Status != job.Finished || got.Payload == nil || *got.Payload != "17" {
		t.Fatalf("Get = %+v, want FINISHED 17", got)
	}
}

func neverReplacesFinishedWithFailed(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-1")
	_ = s.Put(ctx, j.Finished("17", now))
	if err := s.Put(ctx, j.Failed("gave up", now)); !errors.Is(err, store.ErrFinal) {
		t.Fatalf("FAILED over FINISHED = %v, want ErrFinal", err)
	}
	if got, _ := s.Get(ctx, "id-1"); got.Status != job.Finished {
		t.Fatalf("status = %s, want FINISHED kept", got.Status)
	}
	if written, err := store.Finish(ctx, s, j.Failed("gave up", now)); written || err != nil {
		t.Fatalf("Finish = %v, %v; want not written and no error", written, err)
	}
}

func letsALateFinishedReplaceFailed(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-2")
	_ = s.Put(ctx, job.Pending(j))
	_ = s.Put(ctx, j.Failed("gave up", now))
	if written, err := store.Finish(ctx, s, j.Finished("5", now)); !written || err != nil {
		t.Fatalf("Finish = %v, %v; want written", written, err)
	}
	if got, _ := s.Get(ctx, "id-2"); got.Status != job.Finished {
		t.Fatalf("status = %s, want a late FINISHED to win", got.Status)
	}
}

func keepsPendingRecordsAndExpiresFinalOnesAfterTheTTL(t *testing.T, h Harness) {
	j := newJob("id-1")
	if err := h.Store.Create(ctx, job.Pending(j)); err != nil {
		t.Fatal(err)
	}
	if ttl := h.RecordTTL("id-1"); ttl != -1 {
		t.Fatalf("pending record TTL = %s, want none (-1)", ttl)
	}
	for _, rec := range []job.Record{j.Failed("x", now), j.Finished("17", now)} {
		if err := h.Store.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if ttl := h.RecordTTL("id-1"); ttl < TTL-10*time.Second || ttl > TTL {
			t.Fatalf("%s record TTL = %s, want about %s", rec.Status, ttl, TTL)
		}
	}
}

func listsPendingJobsUntilTheyAreFinal(t *testing.T, h Harness) {
	s := h.Store
	old := time.Now().Add(-time.Hour)
	j := job.Job{RequestID: "id-1", A: 1, B: 10, CreatedAt: old}
	_ = s.Create(ctx, job.Pending(j))
	if ids, _ := s.Stale(ctx, time.Now(), 10); len(ids) != 1 || ids[0] != "id-1" {
		t.Fatalf("stale = %v, want [id-1]", ids)
	}
	if ids, _ := s.Stale(ctx, old.Add(-time.Minute), 10); len(ids) != 0 {
		t.Fatalf("stale before submission = %v, want none", ids)
	}
	_ = s.Touch(ctx, "id-1", time.Now().Add(time.Minute))
	if ids, _ := s.Stale(ctx, time.Now(), 10); len(ids) != 0 {
		t.Fatalf("stale after Touch = %v, want none", ids)
	}
	_ = s.Put(ctx, j.Finished("17", now))
	if n, _ := s.Pending(ctx); n != 0 {
		t.Fatalf("pending after FINISHED = %d, want 0", n)
	}
}

func listsStaleJobsOldestFirstUpToTheLimit(t *testing.T, h Harness) {
	s := h.Store
	for i, id := range []string{"c", "a", "b"} {
		_ = s.Create(ctx, job.Pending(job.Job{RequestID: id, A: 1, B: 2, CreatedAt: now.Add(time.Duration(i) * time.Second)}))
	}
	_ = s.Touch(ctx, "never-pending", now) // touches only what is listed
	if ids, _ := s.Stale(ctx, now.Add(time.Minute), 2); len(ids) != 2 || ids[0] != "c" || ids[1] != "a" {
		t.Fatalf("stale = %v, want [c a]", ids)
	}
	if n, _ := s.Pending(ctx); n != 3 {
		t.Fatalf("pending = %d, want 3", n)
	}
}

func holdsLeasesUntilTheJobIsFinal(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	if leased, _ := s.Leased(ctx, "id-1"); leased {
		t.Fatal("leased before any worker took it")
	}
	_ = s.Lease(ctx, "id-1", "worker-a", time.Minute)
	if leased, _ := s.Leased(ctx, "id-1"); !leased {
		t.Fatal("not leased after Lease")
	}
	_ = s.Put(ctx, j.Finished("17", now))
	if leased, _ := s.Leased(ctx, "id-1"); leased {
		t.Fatal("still leased after FINISHED")
	}
}

func countsAttemptsUntilTheJobIsFinal(t *testing.T, h Harness) {
	s := h.Store
	for want := 1; want <= 3; want++ {
		if got, err := s.Attempt(ctx, "id-1"); err != nil || got != want {
			t.Fatalf("Attempt = %d, %v; want %d", got, err, want)
		}
	}
	_ = s.Forget(ctx, "id-1")
	if got, _ := s.Attempt(ctx, "id-1"); got != 1 {
		t.Fatalf("Attempt after Forget = %d, want 1", got)
	}
}

func letsOneJanitorLeadAtATime(t *testing.T, h Harness) {
	s := h.Store
	if ok, err := s.Lead(ctx, "a", time.Minute); err != nil || !ok {
		t.Fatalf("a Lead = %v, %v", ok, err)
	}
	if ok, _ := s.Lead(ctx, "b", time.Minute); ok {
		t.Fatal("b took a live lock held by a")
	}
	if ok, _ := s.Lead(ctx, "a", time.Minute); !ok {
		t.Fatal("a could not renew its own lock")
	}
	_ = s.Resign(ctx, "b") // not b's: no effect
	if ok, _ := s.Lead(ctx, "b", time.Minute); ok {
		t.Fatal("b's Resign freed a's lock")
	}
	_ = s.Resign(ctx, "a")
	if ok, _ := s.Lead(ctx, "b", time.Minute); !ok {
		t.Fatal("b could not lead after a resigned")
	}
}

func deleteRemovesTheRecordAndItsIndexEntry(t *testing.T, h Harness) {
	s := h.Store
	_ = s.Create(ctx, job.Pending(newJob("id-1")))
	if err := s.Delete(ctx, "id-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "id-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if n, _ := s.Pending(ctx); n != 0 {
		t.Fatalf("pending after Delete = %d, want 0", n)
	}
	if err := s.Delete(ctx, "id-1"); err != nil {
		t.Fatalf("deleting a missing record = %v, want nil", err)
	}
}

func claimsAKeyOnceUntilUnclaimed(t *testing.T, h Harness) {
	s := h.Store
	first := store.Claim{RequestID: "id-1", Fingerprint: "fp-1"}
	if got, ok, err := s.Claim(ctx, "client:key", first); err != nil || !ok || got != first {
		t.Fatalf("first Claim = %+v, %v, %v", got, ok, err)
	}
	got, ok, err := s.Claim(ctx, "client:key", store.Claim{RequestID: "id-2", Fingerprint: "fp-2"})
	if err != nil || ok || got != first {
		t.Fatalf("second Claim = %+v, %v, %v; want the first claim back", got, ok, err)
	}
	if err := s.Unclaim(ctx, "client:key"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Claim(ctx, "client:key", store.Claim{RequestID: "id-3"}); !ok {
		t.Fatal("Claim after Unclaim refused")
	}
}

func cancelsOnlyJobsInProgressAndTellsTheWorkers(t *testing.T, h Harness) {
	s := h.Store
	subscribed, stop := context.WithCancel(ctx)
	defer stop()
	cancellations, changes := s.Cancellations(subscribed), s.Changes(subscribed)
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	rec, err := s.Cancel(ctx, "id-1")
	if err != nil || rec.Status != job.Cancelled || rec.FinishedAt == nil {
		t.Fatalf("Cancel = %+v, %v; want CANCELLED", rec, err)
	}
	if id := <-cancellations; id != "id-1" {
		t.Fatalf("cancellation of %q, want id-1", id)
	}
	if id := <-changes; id != "id-1" {
		t.Fatalf("change of %q, want id-1", id)
	}
	if _, err := s.Cancel(ctx, "id-1"); !errors.Is(err, store.ErrFinal) {
		t.Fatalf("second Cancel = %v, want ErrFinal", err)
	}
	for _, late := range []job.Record{j.Finished("17", now), j.Failed("x", now)} {
		if err := s.Put(ctx, late); !errors.Is(err, store.ErrFinal) {
			t.Fatalf("%s over CANCELLED = %v, want ErrFinal", late.Status, err)
		}
	}
	if got, _ := s.Get(ctx, "id-1"); got.Status != job.Cancelled {
		t.Fatalf("status = %s, want CANCELLED to stand", got.Status)
	}
	if _, err := s.Cancel(ctx, "never"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Cancel of an unknown id = %v, want ErrNotFound", err)
	}
}

func showsProgressWhileInProgressOnlyAndAnnouncesIt(t *testing.T, h Harness) {
	s := h.Store
	subscribed, stop := context.WithCancel(ctx)
	defer stop()
	changes := s.Changes(subscribed)
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	_ = s.SetProgress(ctx, "id-1", 0.25)
	if id := <-changes; id != "id-1" {
		t.Fatalf("change of %q, want id-1", id)
	}
	if got, _ := s.Get(ctx, "id-1"); got.Progress == nil || *got.Progress != 0.25 {
		t.Fatalf("progress = %v, want 0.25", got.Progress)
	}
	_ = s.Put(ctx, j.Finished("17", now))
	if got, _ := s.Get(ctx, "id-1"); got.Progress != nil {
		t.Fatalf("progress of a finished job = %v, want none", *got.Progress)
	}
}

func answersPing(t *testing.T, h Harness) {
	s := h.Store
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v", err)
	}
}
