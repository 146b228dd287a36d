package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sumprimes/sumprimes/pkg/job"
	"github.com/sumprimes/sumprimes/pkg/store"
)

// Page sizes of GET /sumPrime.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// jobList is a page of GET /sumPrime, as AIP-158 shapes one.
type jobList struct {
	Jobs          []job.Record `json:"jobs"`
	NextPageToken string       `json:"nextPageToken,omitempty"`
}

// list answers GET /sumPrime: the jobs of the retention window, newest
// first, a page at a time; a client with an API key sees its own, an
// admin's key and an open API (no keys) every job.
func (s *Server) list(c echo.Context) error {
	q, p := parseListQuery(c)
	if p != nil {
		return p
	}
	if !s.sees(c, "") {
		q.Owner = owner(c)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.timeout)
	defer cancel()
	recs, next, err := s.store.List(ctx, q)
	if errors.Is(err, store.ErrCursor) {
		return badField("page_token", "page_token is not one this API gave")
	}
	if err != nil {
		s.log.Error("list records", "error", err)
		return storeUnavailable()
	}
	page := jobList{Jobs: recs}
	if next != "" {
		page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return writeJSON(c, http.StatusOK, page)
}

func parseListQuery(c echo.Context) (store.ListQuery, *Problem) {
	q := store.ListQuery{Limit: defaultPageSize, Status: job.Status(c.QueryParam("status"))}
	switch q.Status {
	case "", job.InProgress, job.Finished, job.Failed, job.Cancelled:
	default:
		return q, badField("status", "status must be IN_PROGRESS, FINISHED, FAILED or CANCELLED")
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return q, badField("limit", "limit must be a whole number from 1 to "+strconv.Itoa(maxPageSize))
		}
		q.Limit = n
	}
	if v := c.QueryParam("page_token"); v != "" {
		after, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return q, badField("page_token", "page_token is not one this API gave")
		}
		q.After = string(after)
	}
	return q, nil
}
