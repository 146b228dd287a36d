package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// TestJanitorRecoversAJobWhoseMessageWasLost runs `sumprimes janitor` as a
// process beside the real pipeline. A job whose record exists but whose
// message never reached the workers (as when a broker loses an
// acknowledged write in a crash) must still finish.
func TestJanitorRecoversAJobWhoseMessageWasLost(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.Janitor.Interval, cfg.Janitor.StaleAfter = 100*time.Millisecond, 300*time.Millisecond
	url := startAPI(t, cfg)
	startWorker(t, cfg)
	janitor := startProcess(t, cfg, "janitor")

	st := store.NewRedis(testenv.Redis(t), cfg.Redis.KeyPrefix, cfg.Result.TTL)
	lost := job.Job{RequestID: uuid.NewString(), A: 1, B: 1_000_000, CreatedAt: time.Now().UTC()}
	if err := st.Create(context.Background(), job.Pending(lost)); err != nil {
		t.Fatal(err)
	}
	// An ordinary job alongside must not be published twice.
	normal := submit(t, url, 1, 1000)

	rec := await(t, url, lost.RequestID)
	if rec.Status != job.Finished || *rec.Payload != "37550402023" {
		t.Fatalf("lost job ended %+v, want FINISHED 37550402023", rec)
	}
	await(t, url, normal)
	janitor.stop(t)
	out := janitor.out.String()
	if strings.Count(out, "publishing a lost job again") != 1 || !strings.Contains(out, lost.RequestID) {
		t.Fatalf("janitor log does not show one recovery of %s:\n%s", lost.RequestID, out)
	}
}
