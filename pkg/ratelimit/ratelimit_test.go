package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/internal/testenv"
	"github.com/sumprimes/sumprimes/pkg/ratelimit"
)

func setup(t *testing.T) *ratelimit.Redis {
	return ratelimit.NewRedis(testenv.Redis(t), "sumprimes-test:"+testenv.Unique()+":rl:")
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AllowsABurstThenLimits", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		limit := ratelimit.Limit{Rate: 1, Burst: 5} // slow refill: the burst is what counts here
		for i := range 5 {
			r, err := l.Allow(ctx, "client", limit)
			if err != nil || !r.Allowed {
				t.Fatalf("request %d = %+v, %v; want allowed within the burst", i+1, r, err)
			}
			if r.Remaining != 4-i {
				t.Errorf("request %d: remaining = %d, want %d", i+1, r.Remaining, 4-i)
			}
		}
		r, err := l.Allow(ctx, "client", limit)
		if err != nil || r.Allowed {
			t.Fatalf("request past the burst = %+v, %v; want limited", r, err)
		}
		if r.RetryAfter <= 0 || r.RetryAfter > time.Second {
			t.Errorf("retry after %s, want within one emission interval (1s)", r.RetryAfter)
		}
	})

	t.Run("KeepsClientsApart", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		limit := ratelimit.Limit{Rate: 1, Burst: 1}
		if r, _ := l.Allow(ctx, "a", limit); !r.Allowed {
			t.Fatal("first request of a limited")
		}
		if r, _ := l.Allow(ctx, "b", limit); !r.Allowed {
			t.Fatal("b limited by a's request")
		}
	})

	t.Run("RefillsAtTheRate", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		limit := ratelimit.Limit{Rate: 50, Burst: 1} // one request every 20 ms
		if r, _ := l.Allow(ctx, "c", limit); !r.Allowed {
			t.Fatal("first request limited")
		}
		testenv.Eventually(t, 2*time.Second, "the budget to refill", func() bool {
			r, err := l.Allow(ctx, "c", limit)
			return err == nil && r.Allowed
		})
	})
}
