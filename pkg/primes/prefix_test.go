package primes_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// knownSums[k] is the sum of the primes below 10^(k+1) (OEIS A046731).
var knownSums = []string{
	"17", "1060", "76127", "5736396", "454396537", "37550402023",
	"3203324994356", "279209790387276", "24739512092254535",
	"2220822432581729238", "201467077743744681014", "18435588552550705911377",
	"1699246443377779418889494", "157589260710736940541561021", "14692398516908006398225702366",
}

func prefix(t *testing.T, n uint64) string {
	t.Helper()
	got, err := primes.PrefixSum(context.Background(), n, primes.Options{Threads: 1})
	if err != nil {
		t.Fatalf("PrefixSum(%d): %v", n, err)
	}
	return got.String()
}

func TestPrefixSum(t *testing.T) {
	t.Parallel()

	t.Run("MatchesKnownSumsBelowPowersOfTenUpTo10To15", func(t *testing.T) {
		t.Parallel()
		n, known := uint64(1), knownSums
		if raceEnabled {
			known = known[:11]
		}
		for k, want := range known {
			n *= 10
			if got := prefix(t, n); got != want {
				t.Errorf("S(10^%d) = %s, want %s", k+1, got, want)
			}
		}
	})

	t.Run("HandlesTheSmallestN", func(t *testing.T) {
		t.Parallel()
		for n, want := range []string{"0", "0", "2", "5", "5", "10", "10", "17", "17", "17", "17", "28"} {
			if got := prefix(t, uint64(n)); got != want {
				t.Errorf("S(%d) = %s, want %s", n, got, want)
			}
		}
	})

	t.Run("AgreesWithTheSieveOnRandomN", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(3, 4))
		for range 40 {
			n := 1 + rng.Uint64N(1<<uint(10+rng.IntN(maxLog2(30))))
			if got, want := prefix(t, n), sum(t, 1, n, 0); got != want {
				t.Fatalf("S(%d) = %s, sieve says %s", n, got, want)
			}
		}
	})

	t.Run("AgreesWithLucysMethodOnRandomNUpTo2To40", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(7, 8))
		for range 24 {
			n := 1<<20 + rng.Uint64N(1<<uint(20+rng.IntN(maxLog2(24))))
			want, err := primes.LucySum(context.Background(), n, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := prefix(t, n); got != want.String() {
				t.Fatalf("S(%d) = %s, Lucy's method says %s", n, got, want)
			}
		}
	})

	t.Run("GivesTheSameSumOnAnyNumberOfThreads", func(t *testing.T) {
		t.Parallel()
		for _, n := range []uint64{1 << 20, 123_456_789_013, 3e11 + 7} {
			want := prefix(t, n)
			for _, threads := range []int{1, 2, 3, 8} {
				got, err := primes.PrefixSum(context.Background(), n, primes.Options{Threads: threads})
				if err != nil || got.String() != want {
					t.Fatalf("S(%d) with %d threads = %s, %v; with all: %s", n, threads, got, err, want)
				}
			}
		}
	})

	t.Run("StaysExactWhereTheSumPasses2To64", func(t *testing.T) {
		t.Parallel()
		// 29,505,444,491 is the prime whose sum S passes 2^64: both sides.
		var crossed bool
		for _, n := range []uint64{29_505_444_490, 29_505_444_491, 29_505_444_600} {
			want, err := primes.LucySum(context.Background(), n, nil)
			if err != nil {
				t.Fatal(err)
			}
			crossed = crossed || want.Hi > 0
			if got := prefix(t, n); got != want.String() {
				t.Fatalf("S(%d) = %s, Lucy's method says %s", n, got, want)
			}
		}
		if !crossed {
			t.Fatal("no case passes 2^64; pick larger n")
		}
	})

	t.Run("ReportsProgressUpToOne", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var seen []float64
		_, err := primes.PrefixSum(context.Background(), 1e9, primes.Options{Progress: func(f float64) {
			mu.Lock()
			seen = append(seen, f)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) < 10 || len(seen) > 200 || seen[len(seen)-1] != 1 {
			t.Fatalf("%d progress reports ending at %v; want a few dozen ending at 1", len(seen), seen[len(seen)-1])
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] < seen[i-1] {
				t.Fatalf("progress went back from %v to %v", seen[i-1], seen[i])
			}
		}
	})

	t.Run("StopsWhenCancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := primes.PrefixSum(ctx, 1e13, primes.Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
}

func TestPlan(t *testing.T) {
	t.Parallel()

	t.Run("SievesNarrowRangesAndPrefixesWideOnes", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			a, b uint64
			want primes.Engine
		}{
			{1e9, 1e9 + 1000, primes.Sieve},
			{1, 1e6, primes.Prefix}, // Lucy needs 10^4.5 steps, the sieve 10^6 numbers
			{1e12, 1e12 + 1e6, primes.Sieve},
			{1e13 - 1e8, 1e13, primes.Sieve},
			{1, 1e12, primes.Prefix},
			{1, 1e13, primes.Prefix},
			{1e11, 1e12, primes.Prefix},
		}
		for _, c := range cases {
			if got := primes.PlanRange(c.a, c.b); got.Engine != c.want {
				t.Errorf("PlanRange(%d, %d) = %s (estimate %s), want %s", c.a, c.b, got.Engine, got.Estimate, c.want)
			}
		}
	})

	t.Run("PlanOnAnEngineEstimatesThatEngine", func(t *testing.T) {
		t.Parallel()
		// [1, 10^7] is the sieve's by the planner; forced onto the prefix
		// engine, its estimate must be the prefix engine's, not the sieve's.
		if p := primes.PlanOn(primes.Prefix, 1, 1e7); p.Engine != primes.Prefix || p.Estimate != primes.PrefixCost(1e7) {
			t.Errorf("PlanOn(prefix, 1, 10^7) = %+v, want the prefix engine's estimate %s", p, primes.PrefixCost(1e7))
		}
		if p := primes.PlanOn(primes.Sieve, 1, 1e12); p.Engine != primes.Sieve || p.Estimate != primes.SieveCost(1, 1e12) {
			t.Errorf("PlanOn(sieve, 1, 10^12) = %+v, want the sieve's estimate %s", p, primes.SieveCost(1, 1e12))
		}
	})

	t.Run("OnScalesTheEstimateByTheSpeedOfItsEngine", func(t *testing.T) {
		t.Parallel()
		speed := primes.Speed{Sieve: 2, Prefix: 0.5}
		sieve, prefix := primes.PlanOn(primes.Sieve, 1e12, 1e12+1e9), primes.PlanOn(primes.Prefix, 1, 1e12)
		if got := sieve.On(speed); got.Engine != primes.Sieve || got.Estimate != 2*sieve.Estimate {
			t.Errorf("%+v.On(%+v) = %+v, want twice the estimate", sieve, speed, got)
		}
		if got := prefix.On(speed); got.Engine != primes.Prefix || got.Estimate != prefix.Estimate/2 {
			t.Errorf("%+v.On(%+v) = %+v, want half the estimate", prefix, speed, got)
		}
		if got := prefix.On(primes.Reference); got != prefix {
			t.Errorf("On(Reference) changed the plan: %+v → %+v", prefix, got)
		}
	})

	t.Run("MeasureSpeedTimesBothEngines", func(t *testing.T) {
		t.Parallel()
		speed, err := primes.MeasureSpeed(context.Background())
		if err != nil || speed.Sieve < 0.25 || speed.Sieve > 4 || speed.Prefix < 0.25 || speed.Prefix > 4 {
			t.Fatalf("MeasureSpeed = %+v, %v; want two factors within 4× of the reference", speed, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := primes.MeasureSpeed(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("MeasureSpeed(cancelled) error = %v, want context.Canceled", err)
		}
	})

	t.Run("EstimatesEveryRangeAsAPositiveDuration", func(t *testing.T) {
		t.Parallel()
		for _, r := range [][2]uint64{{1, 1<<64 - 1}, {1<<63 - 1, 1<<64 - 1}, {1<<64 - 1e9, 1<<64 - 1}, {1, 10}} {
			p := primes.PlanRange(r[0], r[1])
			if p.Estimate <= 0 || primes.SieveCost(r[0], r[1]) <= 0 || primes.PrefixCost(r[1]) <= 0 {
				t.Errorf("PlanRange(%d, %d) = %+v: an estimate not above 0", r[0], r[1], p)
			}
		}
		if p := primes.PlanRange(1, 1<<64-1); p.Engine != primes.Prefix || p.Estimate > 2*time.Hour {
			t.Errorf("PlanRange(1, 2^64 − 1) = %+v, want the prefix engine, under an hour or so", p)
		}
	})

	t.Run("BothEnginesGiveTheSameSum", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(5, 6))
		for range 30 {
			b := 1 + rng.Uint64N(1<<uint(4+rng.IntN(maxLog2(32))))
			a := 1 + rng.Uint64N(b)
			for _, threads := range []int{1, 2} {
				sieve, err := primes.Plan{Engine: primes.Sieve, A: a, B: b}.Run(context.Background(), primes.Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				pre, err := primes.Plan{Engine: primes.Prefix, A: a, B: b}.Run(context.Background(), primes.Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				if sieve != pre {
					t.Fatalf("[%d, %d] threads=%d: sieve %s, prefix %s", a, b, threads, sieve, pre)
				}
			}
		}
	})

	t.Run("SumComputesWithThePlannedEngine", func(t *testing.T) {
		t.Parallel()
		got, plan, err := primes.Sum(context.Background(), 1, 1e11, primes.Options{})
		if err != nil || plan.Engine != primes.Prefix || got.String() != knownSums[10] {
			t.Fatalf("Sum(1, 1e11) = %s, %+v, %v", got, plan, err)
		}
	})

	t.Run("RejectsBoundsOutsideTheDomain", func(t *testing.T) {
		t.Parallel()
		for _, e := range []primes.Engine{primes.Sieve, primes.Prefix} {
			if _, err := (primes.Plan{Engine: e, A: 5, B: 4}).Run(context.Background(), primes.Options{}); !errors.Is(err, primes.ErrRange) {
				t.Errorf("%s with a > b: %v, want ErrRange", e, err)
			}
		}
	})
}

// FuzzEngines compares the two engines and the naive sieve on small ranges:
// go test -fuzz FuzzEngines ./pkg/primes
func FuzzEngines(f *testing.F) {
	for _, seed := range [][2]uint64{{1, 1}, {1, 2}, {2, 2}, {4, 4}, {1, 100}, {89, 97}, {1, 30000}, {999_983, 1_000_003}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		a, b = 1+a%2_000_000, 1+b%2_000_000
		if a > b {
			a, b = b, a
		}
		want := primesString(naiveSum(a, b))
		for _, e := range []primes.Engine{primes.Sieve, primes.Prefix} {
			got, err := primes.Plan{Engine: e, A: a, B: b}.Run(context.Background(), primes.Options{Threads: 1})
			if err != nil || got.String() != want {
				t.Fatalf("%s [%d, %d] = %s, %v; want %s", e, a, b, got, err, want)
			}
		}
	})
}

// maxLog2 caps the size of random ranges: 2^(span) under the race detector
// is kept ~64 times smaller.
func maxLog2(span int) int {
	if raceEnabled {
		return span - 6 - 4
	}
	return span - 4
}
