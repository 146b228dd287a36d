package api

import (
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
	// RequestID names the job the problem is about, when there is one.
	RequestID string `json:"requestId,omitempty"`

	retryAfter int    // seconds; sent as the Retry-After header when > 0
	location   string // sent as the Location header when set
	challenge  string // sent as the WWW-Authenticate header when set
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// problemType prefixes the type of every problem this service defines: a URN
// names the kind of problem without promising a page to fetch.
const problemType = "urn:sumprimes:problem:"

func problem(status int, slug, detail string) *Problem {
	return &Problem{Type: problemType + slug, Title: http.StatusText(status), Status: status, Detail: detail}
}

// httpProblem is a plain HTTP error whose status says it all (RFC 9457
// §4.2.1: type about:blank, title the status text).
func httpProblem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

func badField(field, detail string) *Problem {
	p := problem(http.StatusBadRequest, "invalid-request", detail)
	p.Field = field
	return p
}

// storeUnavailable is the answer whenever the result store fails.
func storeUnavailable() *Problem {
	return unavailable("the result store is unavailable; try again shortly")
}

// notAccepted answers a submit whose job will never run: the client may
// submit again, with the same Idempotency-Key if it sent one.
func notAccepted(id string) *Problem {
	p := unavailableAs("not-accepted", "the job queue did not confirm the job: it was not accepted and will not run; submit it again")
	p.RequestID = id
	return p
}

// bodyProblem answers a request body that could not be read: too large
// (echo's limit), too slow (the read deadline), or cut short.
func bodyProblem(err error) error {
	var he *echo.HTTPError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return err
	case errors.As(err, &ne) && ne.Timeout():
		return problem(http.StatusRequestTimeout, "request-timeout", "the request body did not arrive in time")
	}
	return problem(http.StatusBadRequest, "truncated-body", "the request body was cut short: it ended before its declared length")
}

func unavailable(detail string) *Problem { return unavailableAs("unavailable", detail) }

func unavailableAs(slug, detail string) *Problem {
	p := problem(http.StatusServiceUnavailable, slug, detail)
	p.retryAfter = 5
	return p
}

// handleError is the one place errors become HTTP responses. Handlers
// return *Problem; echo's own errors (no route, wrong method, body too large)
// arrive as *echo.HTTPError and are translated here too.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var p *Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &he):
		p = httpProblem(he.Code, "")
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(he.Code) {
			p.Detail = msg
		}
		if he.Code == http.StatusMethodNotAllowed {
			p.Detail = c.Request().Method + " is not allowed on " + c.Request().URL.Path
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			p.Detail = "request body must be at most " + bodyLimit
		}
	default:
		s.log.Error("unhandled error", "method", c.Request().Method, "path", c.Request().URL.Path, "error", err)
		p = problem(http.StatusInternalServerError, "internal", "the server failed to handle the request")
	}
	if p.retryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.location != "" {
		c.Response().Header().Set(echo.HeaderLocation, p.location)
	}
	if p.challenge != "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, p.challenge)
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method != http.MethodHead {
		_ = jsonEncoder(c.Response()).Encode(p)
	}
}
