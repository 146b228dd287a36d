package api

import (
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// Key is an API key and the name of the client that holds it.
type Key struct{ Name, Secret string }

// keyring maps the SHA-256 of each API key to its holder's name: the keys
// themselves are not kept.
type keyring map[[32]byte]string

func newKeyring(keys []Key) keyring {
	r := keyring{}
	for _, k := range keys {
		r[sha256.Sum256([]byte(k.Secret))] = k.Name
	}
	return r
}

// ownerKey holds, in the echo context, the name of the client a request
// authenticated as.
const ownerKey = "sumprimes.owner"

// sees reports whether the request may see a job of owner: its own, or
// any when the service has no keys or the request holds an admin's key.
func (s *Server) sees(c echo.Context, jobOwner string) bool {
	return len(s.keys) == 0 || jobOwner == owner(c) || slices.Contains(s.admins, owner(c))
}

// owner returns the name the request authenticated as; "" when no keys are
// configured.
func owner(c echo.Context) string {
	name, _ := c.Get(ownerKey).(string)
	return name
}

// authenticate lets a request through only with a configured API key, sent
// as "Authorization: Bearer <key>" or in the X-API-Key header, when any
// keys are configured; the key's holder owns what the request creates, and
// sees only what it owns. Without keys every request passes.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(s.keys) == 0 {
			return next(c)
		}
		key := c.Request().Header.Get("X-API-Key")
		if scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " "); ok && strings.EqualFold(scheme, "Bearer") {
			key = strings.TrimSpace(token)
		}
		if key == "" {
			p := problem(http.StatusUnauthorized, "unauthorized", "send an API key: Authorization: Bearer <key>")
			p.challenge = `Bearer realm="sumprimes"`
			return p
		}
		name, ok := s.keys[sha256.Sum256([]byte(key))]
		if !ok {
			p := problem(http.StatusUnauthorized, "unauthorized", "the API key is not valid")
			p.challenge = `Bearer realm="sumprimes", error="invalid_token"`
			return p
		}
		c.Set(ownerKey, name)
		return next(c)
	}
}
