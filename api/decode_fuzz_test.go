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

// FuzzPlainSubmit checks the one-pass reader against the full decoder:
// whatever body it takes, the full decoder takes too, with the same a and b.
// go test -fuzz FuzzPlainSubmit ./api
func FuzzPlainSubmit(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":1000000}`, `{"b":2,"a":1}`, ` { "a" : 7 , "b" : 7 } `, `{"a":1,"a":2}`, `{"a":01,"b":2}`,
		`{"a":0,"b":2}`, `{"a":18446744073709551615,"b":1}`, `{"a":18446744073709551616,"b":1}`, `{"a":1,"b":2,}`,
		`{"a":1,"b":2}x`, `{"a":1}`, `{"a":1,"b":2,"callbackUrl":"http://x"}`, `{"a":-1,"b":2}`, `{"a":1.5,"b":2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := plainSubmit(body)
		if !ok {
			return
		}
		full, p := decodeJSON(body)
		if p != nil || full != fast {
			t.Fatalf("plainSubmit(%q) = %+v, the full decoder %+v, %v", body, fast, full, p)
		}
	})
}

// BenchmarkDecodeSubmit times the body every client sends through the
// one-pass reader and through the full decoder it falls back to.
func BenchmarkDecodeSubmit(b *testing.B) {
	body := []byte(`{"a":1,"b":1000}`)
	for name, decode := range map[string]func([]byte) (submitRequest, *Problem){"plain": decodeSubmit, "json": decodeJSON} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				decode(body)
			}
		})
	}
}
