package primes

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"time"
)

// Engine names a way to compute the sum of the primes in a range.
type Engine string

const (
	// Sieve runs SumRange: time grows with the span b − a.
	Sieve Engine = "sieve"
	// Prefix runs PrefixSum(b) − PrefixSum(a − 1): time grows with b^¾,
	// whatever the span.
	Prefix Engine = "prefix"
)

// Plan is the engine chosen for [A, B] and the time it is expected to take
// on one core.
type Plan struct {
	Engine   Engine
	A, B     uint64
	Estimate time.Duration
}

// PlanRange picks the engine with the lower estimated cost for [a, b].
// The estimates come from measurements on the development machine (see the
// README); on other machines they scale, and the choice, which depends only
// on their ratio, stays right.
func PlanRange(a, b uint64) Plan {
	sieve := SieveCost(a, b)
	prefix := PrefixCost(b)
	if a > 2 {
		prefix += PrefixCost(a - 1)
	}
	if prefix < sieve {
		return Plan{Engine: Prefix, A: a, B: b, Estimate: prefix}
	}
	return Plan{Engine: Sieve, A: a, B: b, Estimate: sieve}
}

// Sum computes the sum of the primes in [a, b] with the engine PlanRange
// picks, and returns that plan with it.
func Sum(ctx context.Context, a, b uint64, opt Options) (U128, Plan, error) {
	plan := PlanRange(a, b)
	sum, err := plan.Run(ctx, opt)
	return sum, plan, err
}

// Run computes the plan's sum. The prefix engine computes its two prefixes
// side by side when opt allows more than one thread.
func (p Plan) Run(ctx context.Context, opt Options) (U128, error) {
	switch {
	case p.A < 1 || p.A > p.B || p.B > MaxN:
		return U128{}, ErrRange
	case p.Engine == Sieve:
		return SumRange(ctx, p.A, p.B, opt)
	case p.A <= 2:
		return PrefixSum(ctx, p.B, opt.Progress)
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if threads == 1 {
		lowerCost, upperCost := PrefixCost(p.A-1), PrefixCost(p.B)
		share := float64(lowerCost) / float64(lowerCost+upperCost)
		lower, err := PrefixSum(ctx, p.A-1, scaled(opt.Progress, 0, share))
		if err != nil {
			return U128{}, err
		}
		upper, err := PrefixSum(ctx, p.B, scaled(opt.Progress, share, 1))
		if err != nil {
			return U128{}, err
		}
		return upper.Sub(lower), nil
	}
	// Side by side, the upper prefix is the longer one: it reports progress.
	var lower U128
	var lowerErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		lower, lowerErr = PrefixSum(ctx, p.A-1, nil)
	}()
	upper, err := PrefixSum(ctx, p.B, opt.Progress)
	<-done
	if err = cmp.Or(err, lowerErr); err != nil {
		return U128{}, err
	}
	return upper.Sub(lower), nil
}

// scaled maps a callee's progress 0..1 onto [from, to] of the caller's.
func scaled(f func(float64), from, to float64) func(float64) {
	if f == nil {
		return nil
	}
	return func(v float64) { f(from + v*(to-from)) }
}

// SieveCost estimates SumRange(a, b) on one core: nanoseconds per number,
// growing with b as the sieving primes (up to √b) get more and larger,
// plus finding those primes.
func SieveCost(a, b uint64) time.Duration {
	span := float64(b-a) + 1
	perNumber := interpolate(sieveNanos, math.Log10(float64(b)))
	return time.Duration(span*perNumber + 2*math.Sqrt(float64(b)) + 2e4)
}

// PrefixCost estimates PrefixSum(n) on one core: nanoseconds per n^¾, the
// constant growing as the tables outgrow the caches.
func PrefixCost(n uint64) time.Duration {
	if n < 2 {
		return 0
	}
	x := float64(n)
	return time.Duration(math.Pow(x, 0.75)*interpolate(prefixNanos, math.Log10(x)) + 1e3)
}

// Measured one-core costs, by log10 of the upper bound (see the README's
// figures): nanoseconds per number sieved, and per n^¾ for the prefix.
var (
	sieveNanos  = [][2]float64{{0, 0.06}, {9, 0.06}, {10, 0.095}, {11, 0.12}, {12, 0.145}, {13, 0.21}, {14, 0.32}, {15, 0.57}, {16, 0.75}}
	prefixNanos = [][2]float64{{0, 1.0}, {11, 0.9}, {12, 0.85}, {13, 1.6}, {16, 2.4}}
)

// interpolate reads a piecewise-linear table at x, flat past either end.
func interpolate(table [][2]float64, x float64) float64 {
	if x <= table[0][0] {
		return table[0][1]
	}
	for i := 1; i < len(table); i++ {
		if x <= table[i][0] {
			x0, y0, x1, y1 := table[i-1][0], table[i-1][1], table[i][0], table[i][1]
			return y0 + (x-x0)*(y1-y0)/(x1-x0)
		}
	}
	return table[len(table)-1][1]
}
