package api

import (
	"errors"
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

	retryAfter int // seconds; sent as the Retry-After header when > 0
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

func unavailable(detail string) *Problem {
	p := problem(http.StatusServiceUnavailable, "unavailable", detail)
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
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method != http.MethodHead {
		_ = jsonEncoder(c.Response()).Encode(p)
	}
}
