package primes_test

import (
	"context"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// threadPolicy returns the scheduling policy of the calling thread, from
// /proc (field 41 of its stat line).
func threadPolicy(t *testing.T) string {
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Error(err)
		return ""
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])[38]
}

func TestOptionsYieldAndBackground(t *testing.T) {
	cases := []struct {
		name string
		run  func(primes.Options) (primes.U128, error)
	}{
		{"sieve", func(o primes.Options) (primes.U128, error) {
			return primes.SumRange(context.Background(), 1e12, 1e12+1e8, o)
		}},
		{"combinatorial", func(o primes.Options) (primes.U128, error) {
			return primes.PrefixSum(context.Background(), 1e11, o)
		}},
		{"plan of a difference, as a worker runs it", func(o primes.Options) (primes.U128, error) {
			return primes.PlanOn(primes.Prefix, 99e9, 1e11).Run(context.Background(), o)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.run(primes.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			var yields, notIdle atomic.Int64
			got, err := c.run(primes.Options{Threads: 2, Background: true, Yield: func() {
				yields.Add(1)
				if runtime.GOOS == "linux" && threadPolicy(t) != "5" { // SCHED_IDLE
					notIdle.Add(1)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("with Yield and Background: %s, without: %s", got, want)
			}
			if yields.Load() < 10 {
				t.Fatalf("Yield was called %d times; want it between pieces of work", yields.Load())
			}
			if n := notIdle.Load(); n > 0 {
				t.Fatalf("%d of %d yields came from a thread not under SCHED_IDLE", n, yields.Load())
			}
		})
	}
}
