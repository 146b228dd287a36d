package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/metrics"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// hub fans the store's change notifications (one Redis subscription per
// process) out to the requests waiting on particular jobs, so a thousand
// long-polls cost a thousand idle goroutines and one connection, and no
// polling loop at all. A change that carries the final record hands it to
// the waiters, who then need not read it again.
type hub struct {
	mu      sync.Mutex
	waiters map[string]map[chan *job.Record]struct{}
	stats   *stats // counts the final records that pass
}

func newHub(changes <-chan store.Change, st *stats) *hub {
	h := &hub{waiters: map[string]map[chan *job.Record]struct{}{}, stats: st}
	if changes != nil {
		go h.run(changes)
	}
	return h
}

func (h *hub) run(changes <-chan store.Change) {
	for c := range changes {
		h.stats.observe(c.Record, time.Now())
		h.mu.Lock()
		for ch := range h.waiters[c.ID] {
			select {
			case ch <- c.Record:
			default: // already signalled: keep the record, if this one has it
				if c.Record != nil {
					select {
					case <-ch:
					default:
					}
					ch <- c.Record
				}
			}
		}
		h.mu.Unlock()
	}
}

// watch signals on the returned channel whenever job id changes, with its
// final record when the change carries it, until stop is called. Watch
// before reading the record, so no change is missed.
func (h *hub) watch(id string) (<-chan *job.Record, func()) {
	ch := make(chan *job.Record, 1)
	h.mu.Lock()
	if h.waiters[id] == nil {
		h.waiters[id] = map[chan *job.Record]struct{}{}
	}
	h.waiters[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.waiters[id], ch)
		if len(h.waiters[id]) == 0 {
			delete(h.waiters, id)
		}
		h.mu.Unlock()
	}
}

// parseID reads the {id} path parameter: a UUID in its canonical form,
// lower-case hex in 8-4-4-4-12 groups, and no other spelling of it.
func parseID(c echo.Context) (string, *Problem) {
	raw := c.Param("id")
	if id, err := uuid.Parse(raw); err != nil || id.String() != raw {
		return "", badField("id", "request id must be a UUID in canonical form such as 3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60")
	}
	return raw, nil
}

// parseWait reads ?wait= as a Go duration ("30s") or whole seconds ("30");
// no wait parameter means no waiting, an empty one is an error.
func parseWait(values []string, max time.Duration) (time.Duration, *Problem) {
	if len(values) == 0 {
		return 0, nil
	}
	v := values[0]
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			return 0, badField("wait", `wait must be a duration such as "30s", got `+strconv.Quote(v))
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, badField("wait", "wait must not be negative")
	}
	return min(d, max), nil
}

// changedRecord is the record after a change: the one the change carried,
// or else read again.
func (s *Server) changedRecord(c echo.Context, id string, carried *job.Record) (job.Record, error) {
	if carried != nil {
		if !s.sees(c, carried.Owner) {
			return job.Record{}, notFound(id)
		}
		return *carried, nil
	}
	return s.record(c, id)
}

// record reads job id, translating store errors into problems.
// Another client's job is not found either: its id tells nothing.
func (s *Server) record(c echo.Context, id string) (job.Record, error) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	rec, err := s.store.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !s.sees(c, rec.Owner):
		return job.Record{}, notFound(id)
	case err != nil:
		s.log.Error("read record", "requestId", id, "error", err)
		return job.Record{}, storeUnavailable()
	}
	return rec, nil
}

func notFound(id string) *Problem {
	return problem(http.StatusNotFound, "not-found", "no request "+id+": it never existed or its result has expired")
}

// cancel answers DELETE /sumPrime/{id}: an IN_PROGRESS job becomes
// CANCELLED and a worker computing it stops; a final one is a 409.
func (s *Server) cancel(c echo.Context) error {
	id, p := parseID(c)
	if p != nil {
		return p
	}
	if len(s.keys) > 0 { // only its owner may cancel a job
		if _, err := s.record(c, id); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	rec, err := s.store.Cancel(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(id)
	case errors.Is(err, store.ErrFinal):
		return problem(http.StatusConflict, "already-final", fmt.Sprintf("request %s is %s already: nothing to cancel", id, rec.Status))
	case err != nil:
		s.log.Error("cancel", "requestId", id, "error", err)
		return storeUnavailable()
	}
	metrics.JobsCancelled.Inc()
	s.log.Info("job cancelled", "requestId", id)
	s.callbacks.Send(rec)
	return writeJSON(c, http.StatusOK, rec)
}

// events answers GET /sumPrime/{id}/events with server-sent events: the
// record now, again at each change (progress included), and a last time in
// its final state, which ends the stream.
func (s *Server) events(c echo.Context) error {
	id, p := parseID(c)
	if p != nil {
		return p
	}
	changed, stop := s.hub.watch(id)
	defer stop()
	rec, err := s.record(c, id)
	if err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil // the headers say it all
	}
	holdOpen(c)
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	var last []byte
	for {
		data, _ := json.Marshal(rec)
		if string(data) != string(last) {
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", eventName(rec), data); err != nil {
				return nil
			}
			w.Flush()
			last = data
		}
		if rec.Status.Final() {
			return nil
		}
		select {
		case <-c.Request().Context().Done():
			return nil
		case <-s.closing:
			// This replica is going away: the stream ends with an event that
			// carries no record, asking the client to reconnect in a second.
			fmt.Fprint(w, "retry: 1000\nevent: reconnect\n\n")
			w.Flush()
			return nil
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case carried := <-changed:
			if next, err := s.changedRecord(c, id, carried); err == nil {
				rec = next
			}
			continue
		}
		if next, err := s.record(c, id); err == nil {
			rec = next
		}
	}
}

func eventName(rec job.Record) string {
	if rec.Status.Final() {
		return "final"
	}
	return "progress"
}
