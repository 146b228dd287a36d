// Package storetest is the store's conformance suite: the same tests run
// against every implementation of store.Store (Redis on a real server, and
// the in-memory double), so that the double the unit tests rely on can
// never drift from the real rules. River's riverdrivertest is the model.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/primes"
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
	// Wipe loses everything the store holds, as a server restarted
	// without its data would.
	Wipe func()
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
	{"PutWritesTheFirstFinalRecordOnly", putWritesTheFirstFinalRecordOnly},
	{"WritesAFinalRecordWhereNoneIsLeft", writesAFinalRecordWhereNoneIsLeft},
	{"NeverReplacesFinishedWithFailed", neverReplacesFinishedWithFailed},
	{"NeverReplacesFailedWithALateFinished", neverReplacesFailedWithALateFinished},
	{"RejectsOnlyJobsInProgressAndHidesTheTombstone", rejectsOnlyJobsInProgressAndHidesTheTombstone},
	{"KeepsItsGenerationUntilWiped", keepsItsGenerationUntilWiped},
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
	{"StoresEachTasksPartOnceAndCountsThem", storesEachTasksPartOnceAndCountsThem},
	{"CreatesAndFinishesBatchesAsOneByOne", createsAndFinishesBatchesAsOneByOne},
	{"TakesABatchWithLeasesAndTheGeneration", takesABatchWithLeasesAndTheGeneration},
	{"AnnouncesAWrittenResultWithItsRecord", announcesAWrittenResultWithItsRecord},
	{"SumsTheBacklogPerLaneOncePerJob", sumsTheBacklogPerLaneOncePerJob},
	{"ListsJobsNewestFirstByOwnerAndStatusInPages", listsJobsNewestFirstByOwnerAndStatusInPages},
	{"ListsRunningJobsWithTheirWorkersAndProgress", listsRunningJobsWithTheirWorkersAndProgress},
	{"RetriesAFailedJobOnce", retriesAFailedJobOnce},
	{"CreateAllTellsTheGenerationOfAWipedStore", createAllTellsTheGenerationOfAWipedStore},
	{"KeepsEachWorkersLatestSpeedUntilItGoesQuiet", keepsEachWorkersLatestSpeedUntilItGoesQuiet},
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

func putWritesTheFirstFinalRecordOnly(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	first := j.Finished("17", now)
	if err := s.Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	later := j.Finished("17", now.Add(time.Minute)) // a slow duplicate, same sum, later time
	if written, err := store.Finish(ctx, s, later); written || err != nil {
		t.Fatalf("second FINISHED: written %v, %v; want not written, no error", written, err)
	}
	got, _ := s.Get(ctx, "id-1")
	if got.Status != job.Finished || *got.Payload != "17" || !got.FinishedAt.Equal(*first.FinishedAt) {
		t.Fatalf("Get = %+v, want the first FINISHED record unchanged", got)
	}
}

func writesAFinalRecordWhereNoneIsLeft(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-1") // its record lost to a wipe: the result is written all the same
	if written, err := store.Finish(ctx, s, j.Finished("17", now)); !written || err != nil {
		t.Fatalf("Finish = %v, %v; want written", written, err)
	}
	if got, _ := s.Get(ctx, "id-1"); got.Status != job.Finished {
		t.Fatalf("status = %s, want FINISHED", got.Status)
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

func neverReplacesFailedWithALateFinished(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-2")
	_ = s.Put(ctx, job.Pending(j))
	_ = s.Put(ctx, j.Failed("gave up", now))
	if written, err := store.Finish(ctx, s, j.Finished("5", now)); written || err != nil {
		t.Fatalf("Finish = %v, %v; want not written", written, err)
	}
	if got, _ := s.Get(ctx, "id-2"); got.Status != job.Failed {
		t.Fatalf("status = %s, want the first final state, FAILED, to stand", got.Status)
	}
}

func rejectsOnlyJobsInProgressAndHidesTheTombstone(t *testing.T, h Harness) {
	s := h.Store
	subscribed, stop := context.WithCancel(ctx)
	defer stop()
	cancellations := s.Cancellations(subscribed)
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	if rec, err := s.Reject(ctx, "id-1"); err != nil || rec.Status != job.Rejected {
		t.Fatalf("Reject = %+v, %v; want the tombstone", rec, err)
	}
	if id := <-cancellations; id != "id-1" {
		t.Fatalf("cancellation of %q, want id-1: a worker computing it must stop", id)
	}
	if _, err := s.Get(ctx, "id-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a tombstone = %v, want ErrNotFound", err)
	}
	if written, err := store.Finish(ctx, s, j.Finished("17", now)); written || err != nil {
		t.Fatalf("Finish over a tombstone = %v, %v; want not written", written, err)
	}
	if _, err := s.Cancel(ctx, "id-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Cancel of a tombstone = %v, want ErrNotFound", err)
	}
	if n, _ := s.Pending(ctx); n != 0 {
		t.Fatalf("pending = %d, want the tombstone out of the index", n)
	}
	done := newJob("id-2")
	_ = s.Put(ctx, done.Finished("5", now))
	if rec, err := s.Reject(ctx, "id-2"); !errors.Is(err, store.ErrFinal) || rec.Status != job.Finished {
		t.Fatalf("Reject of a finished job = %+v, %v; want it back with ErrFinal", rec, err)
	}
	if _, err := s.Reject(ctx, "never"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Reject of an unknown id = %v, want ErrNotFound", err)
	}
}

func keepsItsGenerationUntilWiped(t *testing.T, h Harness) {
	first, err := h.Store.Generation(ctx)
	if err != nil || first == "" {
		t.Fatalf("Generation = %q, %v", first, err)
	}
	if again, _ := h.Store.Generation(ctx); again != first {
		t.Fatalf("Generation changed from %q to %q with nothing wiped", first, again)
	}
	h.Wipe()
	if after, _ := h.Store.Generation(ctx); after == first || after == "" {
		t.Fatalf("Generation after a wipe = %q, want a new one (was %q)", after, first)
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
	if err := h.Store.Put(ctx, j.Finished("17", now)); err != nil {
		t.Fatal(err)
	}
	other := newJob("id-2")
	_ = h.Store.Create(ctx, job.Pending(other))
	_ = h.Store.Put(ctx, other.Failed("x", now))
	for _, id := range []string{"id-1", "id-2"} {
		if ttl := h.RecordTTL(id); ttl < TTL-10*time.Second || ttl > TTL {
			t.Fatalf("final record %s TTL = %s, want about %s", id, ttl, TTL)
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
	_, _, _ = s.Take(ctx, []string{"id-1"}, "worker-a", time.Minute)
	if leased, _ := s.Leased(ctx, "id-1"); !leased {
		t.Fatal("not leased after Take")
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
	if c := <-changes; c.ID != "id-1" || c.Record == nil || c.Record.Status != job.Cancelled {
		t.Fatalf("change %+v, want id-1 with its CANCELLED record", c)
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
	if c := <-changes; c.ID != "id-1" || c.Record != nil {
		t.Fatalf("change %+v, want id-1 without a record", c)
	}
	if got, _ := s.Get(ctx, "id-1"); got.Progress == nil || *got.Progress != 0.25 {
		t.Fatalf("progress = %v, want 0.25", got.Progress)
	}
	_ = s.Put(ctx, j.Finished("17", now))
	if got, _ := s.Get(ctx, "id-1"); got.Progress != nil {
		t.Fatalf("progress of a finished job = %v, want none", *got.Progress)
	}
}

func storesEachTasksPartOnceAndCountsThem(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	if stored, n, err := s.Scatter(ctx, "id-1", 3, 4*time.Second); err != nil || len(stored) != 0 || n != 3 {
		t.Fatalf("Scatter = %v, %d, %v; want no parts stored of 3", stored, n, err)
	}
	c, err := s.PutPart(ctx, "id-1", 2, []byte("two"), time.Second)
	if err != nil || c != (store.TaskCount{Done: 1, Of: 3, Share: 0.25}) {
		t.Fatalf("first part: %+v, %v", c, err)
	}
	// A redelivered task writes its part again: the first stands, counted once.
	if c, _ = s.PutPart(ctx, "id-1", 2, []byte("other"), time.Second); c.Done != 1 || c.Complete() {
		t.Fatalf("part stored twice: %+v", c)
	}
	// Scattering again (a job redelivered before it was committed) keeps
	// the first count and says which parts are in.
	if stored, n, _ := s.Scatter(ctx, "id-1", 5, time.Second); len(stored) != 1 || stored[0] != 2 || n != 3 {
		t.Fatalf("Scatter again = %v of %d, want [2] of 3", stored, n)
	}
	if got, _ := s.Get(ctx, "id-1"); got.Tasks != 3 || got.TasksDone != 1 {
		t.Fatalf("record shows %d of %d tasks done, want 1 of 3", got.TasksDone, got.Tasks)
	}
	_, _ = s.PutPart(ctx, "id-1", 0, []byte{0, 255, 1}, time.Second)
	if c, _ = s.PutPart(ctx, "id-1", 1, nil, 2*time.Second); !c.Complete() || c.Share != 1 {
		t.Fatalf("last part: %+v, want complete", c)
	}
	parts, err := s.Parts(ctx, "id-1")
	if err != nil || len(parts) != 3 || string(parts[2]) != "two" || string(parts[0]) != "\x00\xff\x01" || len(parts[1]) != 0 {
		t.Fatalf("Parts = %v, %v", parts, err)
	}
	// Settling the job drops its parts.
	_ = s.Put(ctx, j.Finished("17", now))
	if parts, _ := s.Parts(ctx, "id-1"); len(parts) != 0 {
		t.Fatalf("parts of a finished job: %d, want none", len(parts))
	}
}

func answersPing(t *testing.T, h Harness) {
	s := h.Store
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v", err)
	}
}

func createsAndFinishesBatchesAsOneByOne(t *testing.T, h Harness) {
	s := h.Store
	_ = s.Create(ctx, job.Pending(newJob("id-1")))
	errs, gen, err := s.CreateAll(ctx, []job.Record{job.Pending(newJob("id-1")), job.Pending(newJob("id-2")), job.Pending(newJob("id-3"))})
	if err != nil || !errors.Is(errs[0], store.ErrExists) || errs[1] != nil || errs[2] != nil {
		t.Fatalf("CreateAll = %v, %v; want ErrExists for id-1 only", errs, err)
	}
	if want, _ := s.Generation(ctx); gen != want || gen == "" {
		t.Fatalf("CreateAll's generation = %q, want the store's, %q", gen, want)
	}
	_, _ = s.Cancel(ctx, "id-3")
	errs, err = s.PutAll(ctx, []job.Record{newJob("id-1").Finished("17", now), newJob("id-2").Failed("x", now), newJob("id-3").Finished("17", now)})
	if err != nil || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], store.ErrFinal) {
		t.Fatalf("PutAll = %v, %v; want ErrFinal for the cancelled id-3 only", errs, err)
	}
	for id, want := range map[string]job.Status{"id-1": job.Finished, "id-2": job.Failed, "id-3": job.Cancelled} {
		if got, _ := s.Get(ctx, id); got.Status != want {
			t.Fatalf("%s is %s, want %s", id, got.Status, want)
		}
	}
	if n, _ := s.Pending(ctx); n != 0 {
		t.Fatalf("pending = %d after every job is final, want 0", n)
	}
}

func takesABatchWithLeasesAndTheGeneration(t *testing.T, h Harness) {
	s := h.Store
	_ = s.Create(ctx, job.Pending(newJob("id-1")))
	_ = s.Create(ctx, job.Pending(newJob("id-2")))
	_, _ = s.Reject(ctx, "id-2")
	found, gen, err := s.Take(ctx, []string{"id-1", "id-2", "never"}, "me", time.Minute)
	if err != nil || len(found) != 3 {
		t.Fatalf("Take = %v, %v", found, err)
	}
	if found[0].Err != nil || found[0].Record.RequestID != "id-1" || found[0].Record.Status != job.InProgress {
		t.Fatalf("Take found %+v for id-1, want its record", found[0])
	}
	for _, f := range found[1:] {
		if !errors.Is(f.Err, store.ErrNotFound) {
			t.Fatalf("Take of a tombstone or unknown id = %+v, want ErrNotFound", f)
		}
	}
	if want, _ := s.Generation(ctx); gen == "" || gen != want {
		t.Fatalf("Take's generation = %q, want %q", gen, want)
	}
	if leased, _ := s.Leased(ctx, "id-1"); !leased {
		t.Fatal("Take left id-1 unleased")
	}
}

func announcesAWrittenResultWithItsRecord(t *testing.T, h Harness) {
	s := h.Store
	subscribed, stop := context.WithCancel(ctx)
	defer stop()
	changes := s.Changes(subscribed)
	j := newJob("id-1")
	_ = s.Create(ctx, job.Pending(j))
	want := j.Finished("17", now)
	_ = s.Put(ctx, want)
	c := <-changes
	if c.ID != "id-1" || c.Record == nil || c.Record.Status != job.Finished || *c.Record.Payload != "17" {
		t.Fatalf("change = %+v, want id-1 with its FINISHED record", c)
	}
	_ = s.Put(ctx, j.Failed("late", now)) // not written: nothing to announce
	_ = s.SetProgress(ctx, "id-1", 0.5)
	if c := <-changes; c.Record != nil {
		t.Fatalf("a refused Put announced %+v", *c.Record)
	}
}

func sumsTheBacklogPerLaneOncePerJob(t *testing.T, h Harness) {
	s := h.Store
	heavy := func(id string, est time.Duration) job.Record {
		j := newJob(id)
		j.Lane, j.Plan = job.Heavy, job.Plan{Engine: "sieve", Estimate: est}
		return job.Pending(j)
	}
	light := newJob("id-3")
	light.Plan = job.Plan{Engine: "sieve", Estimate: time.Millisecond}
	_ = s.Create(ctx, heavy("id-1", 2*time.Second))
	_ = s.Create(ctx, heavy("id-1", 2*time.Second)) // counted once
	_ = s.Create(ctx, heavy("id-2", 3*time.Second))
	_ = s.Create(ctx, job.Pending(light))
	got, err := s.Backlog(ctx)
	if err != nil || got[job.Heavy] != 5*time.Second || got[job.Light] != time.Millisecond {
		t.Fatalf("Backlog = %v, %v; want heavy 5s, light 1ms", got, err)
	}
	_ = s.Put(ctx, heavy("id-1", 2*time.Second).Job.Finished("1", now))
	_ = s.Put(ctx, heavy("id-1", 2*time.Second).Job.Finished("1", now)) // taken out once
	_, _ = s.Cancel(ctx, "id-3")
	if got, _ := s.Backlog(ctx); got[job.Heavy] != 3*time.Second || got[job.Light] != 0 {
		t.Fatalf("Backlog = %v after one heavy job finished and the light one was cancelled; want heavy 3s, light 0", got)
	}
	// In batches, as the API and the workers write them: both lanes, and
	// one job twice in a batch, still counted once each way.
	light5 := newJob("id-5")
	light5.Plan = job.Plan{Engine: "sieve", Estimate: 2 * time.Millisecond}
	batch := []job.Record{heavy("id-4", time.Second), heavy("id-4", time.Second), job.Pending(light5), heavy("id-6", 4*time.Second)}
	if _, _, err := s.CreateAll(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Backlog(ctx); got[job.Heavy] != 8*time.Second || got[job.Light] != 2*time.Millisecond {
		t.Fatalf("Backlog = %v after a batch; want heavy 8s, light 2ms", got)
	}
	var finals []job.Record
	for _, rec := range append(batch, heavy("id-2", 3*time.Second)) {
		finals = append(finals, rec.Job.Finished("1", now))
	}
	if _, err := s.PutAll(ctx, finals); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Backlog(ctx); got[job.Heavy] != 0 || got[job.Light] != 0 {
		t.Fatalf("Backlog = %v once every job finished; want none", got)
	}
	if n, err := s.Pending(ctx); err != nil || n != 0 {
		t.Fatalf("Pending = %d, %v once every job finished; want 0", n, err)
	}
}

func listsJobsNewestFirstByOwnerAndStatusInPages(t *testing.T, h Harness) {
	s := h.Store
	var recs []job.Record
	for i := range 7 { // two owners; the same millisecond twice
		j := newJob(fmt.Sprintf("id-%d", i))
		j.Owner = []string{"ann", "bob"}[i%2]
		j.CreatedAt = now.Add(time.Duration(min(i, 5)) * time.Millisecond)
		recs = append(recs, job.Pending(j))
	}
	if _, _, err := s.CreateAll(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, recs[2].Finished("17", now)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reject(ctx, "id-4"); err != nil { // a tombstone is listed by no one
		t.Fatal(err)
	}
	pages := func(q store.ListQuery) (ids []string) {
		for range 10 {
			page, next, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range page {
				ids = append(ids, rec.RequestID)
			}
			if q.After = next; next == "" {
				return ids
			}
		}
		t.Fatalf("the pages of %+v never end", q)
		return nil
	}
	for _, c := range []struct {
		q    store.ListQuery
		want string
	}{
		{store.ListQuery{Limit: 2}, "id-6 id-5 id-3 id-2 id-1 id-0"},
		{store.ListQuery{Limit: 10}, "id-6 id-5 id-3 id-2 id-1 id-0"},
		{store.ListQuery{Owner: "ann", Limit: 2}, "id-6 id-2 id-0"},
		{store.ListQuery{Owner: "bob", Limit: 1}, "id-5 id-3 id-1"},
		{store.ListQuery{Status: job.Finished, Limit: 1}, "id-2"},
		{store.ListQuery{Owner: "bob", Status: job.InProgress, Limit: 5}, "id-5 id-3 id-1"},
		{store.ListQuery{Owner: "carl", Limit: 5}, ""},
	} {
		if got := strings.Join(pages(c.q), " "); got != c.want {
			t.Errorf("List %+v, page after page: %q, want %q", c.q, got, c.want)
		}
	}
	if _, _, err := s.List(ctx, store.ListQuery{Limit: 1, After: "nonsense"}); !errors.Is(err, store.ErrCursor) {
		t.Errorf("List after a cursor it did not make: %v, want ErrCursor", err)
	}
}

func listsRunningJobsWithTheirWorkersAndProgress(t *testing.T, h Harness) {
	s := h.Store
	for i, id := range []string{"b", "a", "done"} {
		j := newJob(id)
		j.CreatedAt = now.Add(time.Duration(i) * time.Second)
		_ = s.Create(ctx, job.Pending(j))
	}
	_ = s.Put(ctx, newJob("done").Finished("17", now))
	_, _, _ = s.Take(ctx, []string{"a"}, "worker-1", time.Minute)
	_ = s.SetProgress(ctx, "a", 0.5)
	running, err := s.Running(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range running {
		p := "-"
		if r.Record.Progress != nil {
			p = fmt.Sprint(*r.Record.Progress)
		}
		got = append(got, fmt.Sprintf("%s:%s:%s:%s", r.Record.RequestID, r.Record.Status, r.Worker, p))
	}
	if want := "b:IN_PROGRESS::- a:IN_PROGRESS:worker-1:0.5"; strings.Join(got, " ") != want {
		t.Fatalf("Running = %v, want %s (oldest first, final jobs left out)", got, want)
	}
	if running, _ := s.Running(ctx, 1); len(running) != 1 {
		t.Fatalf("Running(1) gave %d jobs", len(running))
	}
}

func retriesAFailedJobOnce(t *testing.T, h Harness) {
	s := h.Store
	j := newJob("id-1")
	j.Plan = job.Plan{Engine: "sieve", Estimate: time.Second}
	_ = s.Create(ctx, job.Pending(j))
	_ = s.Put(ctx, j.Failed("dead-lettered", now))
	if n, _ := s.Pending(ctx); n != 0 {
		t.Fatalf("pending = %d after FAILED", n)
	}
	again, err := s.Retry(ctx, "id-1")
	if err != nil || again.Status != job.InProgress || again.Error != "" || again.FinishedAt != nil || again.RequestID != "id-1" {
		t.Fatalf("Retry = %+v, %v; want the job IN_PROGRESS again", again, err)
	}
	if got, _ := s.Get(ctx, "id-1"); got.Status != job.InProgress || h.RecordTTL("id-1") != -1 {
		t.Fatalf("after Retry: %s, TTL %v; want IN_PROGRESS that never expires", got.Status, h.RecordTTL("id-1"))
	}
	if n, _ := s.Pending(ctx); n != 1 {
		t.Fatalf("pending = %d after Retry, want 1", n)
	}
	if backlog, _ := s.Backlog(ctx); backlog[job.Light] != time.Second {
		t.Fatalf("backlog = %v after Retry, want the job's second", backlog)
	}
	if rec, err := s.Retry(ctx, "id-1"); !errors.Is(err, store.ErrNotFailed) || rec.Status != job.InProgress {
		t.Fatalf("second Retry = %s, %v; want IN_PROGRESS with ErrNotFailed", rec.Status, err)
	}
	if written, err := store.Finish(ctx, s, j.Finished("17", now)); !written || err != nil {
		t.Fatalf("the new attempt's result: written %v, %v", written, err)
	}
	if _, err := s.Retry(ctx, "id-1"); !errors.Is(err, store.ErrNotFailed) {
		t.Fatalf("Retry of FINISHED = %v, want ErrNotFailed", err)
	}
	if _, err := s.Retry(ctx, "never"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Retry of an unknown id = %v, want ErrNotFound", err)
	}
}

func createAllTellsTheGenerationOfAWipedStore(t *testing.T, h Harness) {
	s := h.Store
	_, before, _ := s.CreateAll(ctx, []job.Record{job.Pending(newJob("id-1"))})
	h.Wipe()
	_, after, err := s.CreateAll(ctx, []job.Record{job.Pending(newJob("id-2"))})
	if err != nil || after == before || after == "" {
		t.Fatalf("CreateAll's generation after a wipe = %q, %v; want a new one (before: %q)", after, err, before)
	}
	if now, _ := s.Generation(ctx); now != after {
		t.Fatalf("Generation = %q after CreateAll told %q", now, after)
	}
}

func keepsEachWorkersLatestSpeedUntilItGoesQuiet(t *testing.T, h Harness) {
	s := h.Store
	since := now.Add(-3 * time.Minute)
	if got, err := s.Speeds(ctx, since); err != nil || len(got) != 0 {
		t.Fatalf("Speeds with no reports = %v, %v; want none", got, err)
	}
	_ = s.ReportSpeed(ctx, "w1", primes.Speed{Sieve: 2, Prefix: 1.5}, now)
	_ = s.ReportSpeed(ctx, "w2", primes.Speed{Sieve: 1, Prefix: 3}, now)
	// A worker gone quiet since (its last report before since) counts no
	// more, and one that reports again counts once, as it reports now.
	_ = s.ReportSpeed(ctx, "gone", primes.Speed{Sieve: 9, Prefix: 9}, now.Add(-10*time.Minute))
	_ = s.ReportSpeed(ctx, "w1", primes.Speed{Sieve: 2, Prefix: 2}, now)
	got, err := s.Speeds(ctx, since)
	want := map[string]primes.Speed{"w1": {Sieve: 2, Prefix: 2}, "w2": {Sieve: 1, Prefix: 3}}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("Speeds = %v, %v; want %v", got, err, want)
	}
	if got, _ := s.Speeds(ctx, now.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("Speeds once every report is older = %v; want none", got)
	}
	if got, _ := s.Speeds(ctx, since); len(got) != 0 {
		t.Fatalf("Speeds = %v after the reports were dropped as old; want none", got)
	}
}
