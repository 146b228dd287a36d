package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/queue"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Operator is what the admin API reads and acts on besides the store: the
// dead-letter topic and the workers' consumer groups.
type Operator interface {
	ListDeadLetters(ctx context.Context, limit int) ([]queue.DeadLetter, error)
	ReadDeadLetter(ctx context.Context, id string) (queue.DeadLetter, error)
	PurgeDeadLetters(ctx context.Context) (int64, error)
	Members(ctx context.Context) (map[job.Lane][]queue.Member, error)
	Lag(ctx context.Context) (queue.Lag, error)
}

// maxDeadLetters caps a listing of the dead-letter topic, and a replay of
// all of it.
const maxDeadLetters = 1000

// adminOnly lets through the holders of an admin's key (auth.admins), and
// everyone when the service has no keys.
func (s *Server) adminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(s.keys) > 0 && !slices.Contains(s.admins, owner(c)) {
			return problem(http.StatusForbidden, "forbidden", "this needs an admin's API key (auth.admins)")
		}
		if s.ops == nil {
			return unavailable("the admin API has no queue to read in this process")
		}
		return next(c)
	}
}

// deadLetterView is a dead letter with its job's record as it stands now.
type deadLetterView struct {
	queue.DeadLetter
	Status job.Status `json:"status,omitempty"` // the job's record now; absent when it has none (expired)
	Error  string     `json:"error,omitempty"`  // the record's reason, when FAILED
}

// deadLetters answers GET /admin/dead-letters: the newest first.
func (s *Server) deadLetters(c echo.Context) error {
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeadLetters {
			return badField("limit", "limit must be a whole number from 1 to "+strconv.Itoa(maxDeadLetters))
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	letters, err := s.ops.ListDeadLetters(ctx, limit)
	if err != nil {
		s.log.Error("list dead letters", "error", err)
		return queueUnavailable()
	}
	out := make([]deadLetterView, len(letters))
	for i, d := range letters {
		out[i].DeadLetter = d
		if d.Job == nil {
			continue
		}
		rec, err := s.store.Get(ctx, d.Job.RequestID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			s.log.Error("read record", "requestId", d.Job.RequestID, "error", err)
			return storeUnavailable()
		case rec.Same(*d.Job):
			out[i].Status, out[i].Error = rec.Status, rec.Error
		}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"deadLetters": out})
}

// replayed is the answer to a replay.
type replayed struct {
	Replayed bool       `json:"replayed"`
	Record   job.Record `json:"record"`
}

// replayDeadLetter answers POST /admin/dead-letters/{id}/replay: the job
// gets a new attempt (202) if its record is FAILED; otherwise nothing is
// done (200 with its record), so replaying twice is replaying once.
func (s *Server) replayDeadLetter(c echo.Context) error {
	id := c.Param("deadLetterId")
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	d, err := s.ops.ReadDeadLetter(ctx, id)
	switch {
	case errors.Is(err, queue.ErrNoDeadLetter):
		return problem(http.StatusNotFound, "not-found", "no dead letter "+id+": it never existed, was purged or is past the topic's retention")
	case err != nil:
		s.log.Error("read dead letter", "id", id, "error", err)
		return queueUnavailable()
	case d.Job == nil:
		return problem(http.StatusConflict, "not-a-job", "dead letter "+id+" is not a job: there is nothing to replay")
	}
	rec, again, err := s.retry(ctx, *d.Job)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if again {
		status = http.StatusAccepted
	}
	return writeJSON(c, status, replayed{Replayed: again, Record: rec})
}

// replayAll answers POST /admin/dead-letters/replay: every dead letter
// whose job is FAILED gets a new attempt, once.
func (s *Server) replayAll(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	letters, err := s.ops.ListDeadLetters(ctx, maxDeadLetters)
	if err != nil {
		s.log.Error("list dead letters", "error", err)
		return queueUnavailable()
	}
	var again []job.Job
	skipped := 0
	seen := map[string]bool{}
	for _, d := range letters {
		if d.Job == nil || seen[d.Job.RequestID] {
			skipped++
			continue
		}
		seen[d.Job.RequestID] = true
		rec, reopened, err := s.reopen(ctx, *d.Job)
		var p *Problem
		switch {
		case errors.As(err, &p) && p.Status == http.StatusConflict:
			skipped++
		case err != nil:
			return err
		case reopened:
			again = append(again, rec.Job)
		default:
			skipped++
		}
	}
	if err := s.publishReplays(ctx, again); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]int{"replayed": len(again), "skipped": skipped})
}

// retry gives j a new attempt if its record is FAILED (see reopen), and
// publishes it.
func (s *Server) retry(ctx context.Context, j job.Job) (job.Record, bool, error) {
	rec, again, err := s.reopen(ctx, j)
	if err == nil && again {
		err = s.publishReplays(ctx, []job.Job{rec.Job})
	}
	if err != nil {
		return job.Record{}, false, err
	}
	return rec, again, nil
}

// reopen makes j's FAILED record IN_PROGRESS again (store.Retry) and
// returns it with again true; a record that is not FAILED is returned as it
// stands, with again false. The job is then the caller's to publish.
func (s *Server) reopen(ctx context.Context, j job.Job) (rec job.Record, again bool, err error) {
	cur, err := s.store.Get(ctx, j.RequestID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return job.Record{}, false, problem(http.StatusConflict, "expired",
			"the record of job "+j.RequestID+" has expired (result.ttl): submit its range again")
	case err != nil:
		s.log.Error("read record", "requestId", j.RequestID, "error", err)
		return job.Record{}, false, storeUnavailable()
	case !cur.Same(j):
		return job.Record{}, false, problem(http.StatusConflict, "not-the-job",
			"the dead letter names job "+j.RequestID+" but not its range: it was never that job")
	}
	rec, err = s.store.Retry(ctx, j.RequestID)
	switch {
	case errors.Is(err, store.ErrNotFailed):
		return rec, false, nil
	case errors.Is(err, store.ErrNotFound):
		return job.Record{}, false, problem(http.StatusConflict, "expired", "the record of job "+j.RequestID+" has expired")
	case err != nil:
		s.log.Error("retry record", "requestId", j.RequestID, "error", err)
		return job.Record{}, false, storeUnavailable()
	}
	return rec, true, nil
}

// publishReplays publishes reopened jobs in one batch. A job the queue did
// not confirm is IN_PROGRESS all the same, in the pending index: the
// janitor publishes it again once it is stale, so it is not lost.
func (s *Server) publishReplays(ctx context.Context, jobs []job.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	failed := 0
	for i, err := range s.queue.PublishAll(ctx, jobs) {
		if err != nil {
			s.log.Error("publish a replayed job", "requestId", jobs[i].RequestID, "error", err)
			failed++
			continue
		}
		s.log.Info("dead letter replayed", "requestId", jobs[i].RequestID)
	}
	if failed > 0 {
		return unavailableAs("replay-unconfirmed", fmt.Sprintf(
			"%d of %d replayed jobs are IN_PROGRESS again but the queue did not confirm them; the janitor will publish them again", failed, len(jobs)))
	}
	return nil
}

// purgeDeadLetters answers DELETE /admin/dead-letters.
func (s *Server) purgeDeadLetters(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	n, err := s.ops.PurgeDeadLetters(ctx)
	if err != nil {
		s.log.Error("purge dead letters", "error", err)
		return queueUnavailable()
	}
	s.log.Info("dead letters purged", "count", n)
	return writeJSON(c, http.StatusOK, map[string]int64{"purged": n})
}

// workersView is GET /admin/workers.
type workersView struct {
	Lanes []laneView `json:"lanes"`
	// Waiting counts the jobs in progress that no worker holds: queued, or
	// their worker gone and its lease not yet expired.
	Waiting int `json:"waiting"`
	// Speed is the median of the workers' speeds, the one estimates are
	// scaled by (fleetSpeed).
	Speed speedView `json:"speed"`
}

// speedView is how long a machine takes for what takes a second on the
// planner's reference machine, per engine.
type speedView struct {
	Sieve  float64 `json:"sieve"`
	Prefix float64 `json:"prefix"`
}

type laneView struct {
	Lane    string           `json:"lane"`
	Members []memberView     `json:"members"`
	Lag     map[string]int64 `json:"lag"` // by partition
}

type memberView struct {
	queue.Member
	Jobs []runningJob `json:"jobs"`
	// Speed is what the worker measured when it started; none until it
	// has reported.
	Speed *speedView `json:"speed,omitempty"`
}

type runningJob struct {
	RequestID string   `json:"requestId"`
	A         uint64   `json:"a"`
	B         uint64   `json:"b"`
	Progress  *float64 `json:"progress,omitempty"`
}

// workers answers GET /admin/workers: each lane's group members, the
// partitions each holds and the jobs each computes (from their leases),
// and the lag of every partition.
func (s *Server) workers(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	members, err := s.ops.Members(ctx)
	if err != nil {
		s.log.Error("describe groups", "error", err)
		return queueUnavailable()
	}
	lag, err := s.ops.Lag(ctx)
	if err != nil {
		s.log.Error("read lag", "error", err)
		return queueUnavailable()
	}
	running, err := s.store.Running(ctx, 500)
	if err != nil {
		s.log.Error("read running jobs", "error", err)
		return storeUnavailable()
	}
	speeds, err := s.store.Speeds(ctx, s.now().Add(-store.SpeedStale))
	if err != nil {
		s.log.Error("read the workers' speeds", "error", err)
		return storeUnavailable()
	}
	held := map[string][]runningJob{} // by worker and lane
	fleet := median(speeds)
	out := workersView{Speed: speedView{fleet.Sieve, fleet.Prefix}}
	for _, r := range running {
		if r.Worker == "" {
			out.Waiting++
			continue
		}
		key := r.Worker + "/" + r.Record.Lane.String()
		held[key] = append(held[key], runningJob{r.Record.RequestID, r.Record.A, r.Record.B, r.Record.Progress})
	}
	for _, lane := range job.Queues {
		v := laneView{Lane: lane.String(), Members: []memberView{}, Lag: map[string]int64{}}
		for p, n := range lag.ByLane[lane] {
			v.Lag[strconv.Itoa(p)] = n
		}
		for _, m := range members[lane] {
			key := m.Owner + "/" + lane.String()
			mv := memberView{Member: m, Jobs: append([]runningJob{}, held[key]...)}
			if sp, ok := speeds[m.Owner]; ok {
				mv.Speed = &speedView{sp.Sieve, sp.Prefix}
			}
			v.Members = append(v.Members, mv)
			delete(held, key)
		}
		out.Lanes = append(out.Lanes, v)
	}
	for _, jobs := range held { // held by a worker that is not in its group (leaving, or joining)
		out.Waiting += len(jobs)
	}
	return writeJSON(c, http.StatusOK, out)
}

// stats answers GET /admin/stats: jobs in progress, and per minute over
// the last statsMinutes the jobs that ended in each state, finished jobs
// per second and their end-to-end latency percentiles.
func (s *Server) adminStats(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	pending, err := s.store.Pending(ctx)
	if err != nil {
		s.log.Error("count pending", "error", err)
		return storeUnavailable()
	}
	return writeJSON(c, http.StatusOK, map[string]any{"inProgress": pending, "minutes": s.stats.view(s.now())})
}

func queueUnavailable() *Problem {
	return unavailable("the job queue is unavailable; try again shortly")
}
