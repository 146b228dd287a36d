package api

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// FuzzDecodeSubmit feeds arbitrary bodies to the decoder and the limits:
// every input is either a valid range or a 400 naming what is wrong, never
// a panic. go test -fuzz FuzzDecodeSubmit ./api
func FuzzDecodeSubmit(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":1000000}`, `{"a":"1","b":2}`, `{"a":1.0,"b":2}`, `{"a":-1,"b":2}`, `{"a":1}`,
		`{"a":1,"b":2,"c":3}`, `null`, `[]`, `{"a":1e3,"b":2}`, `{"a":18446744073709551616,"b":1}`,
		`{"a":1,"b":2}{}`, `{"a":true,"b":null}`, `{"a" :  7 , "b" : 7 }`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	limits := job.Limits{MaxB: 1e13, MaxCost: 12 * time.Second}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, p := decodeSubmit(body)
		if p != nil {
			if p.Status != http.StatusBadRequest || p.Detail == "" {
				t.Fatalf("problem for %q = %+v, want a 400 with a detail", body, p)
			}
			return
		}
		if req.A < 1 || req.B < 1 {
			t.Fatalf("decoded %q to %+v: bounds must be at least 1", body, req)
		}
		if _, err := limits.Check(req.A, req.B); err != nil {
			var fe *job.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Detail == "" {
				t.Fatalf("limits error for %+v = %v, want a FieldError naming a field", req, err)
			}
		}
	})
}
