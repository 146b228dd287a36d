package primes

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Engine names a way to compute the sum of the primes in a range.
type Engine string

const (
	// Sieve runs SumRange: time grows with the span b − a.
	Sieve Engine = "sieve"
	// Prefix runs PrefixSum(b) − PrefixSum(a − 1): time grows with b^⅔,
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
// The estimates are the reference machine's (see sieveNanos); Plan.On
// scales them to another. The choice is made on the reference's, so that
// every process and machine chooses alike.
func PlanRange(a, b uint64) Plan {
	sieve, prefix := PlanOn(Sieve, a, b), PlanOn(Prefix, a, b)
	// Chosen on the costs in a process past its first sums, as a worker's
	// soon is; the estimate keeps the first use.
	if sieve.Estimate <= prefix.Estimate-firstUse(b) {
		return sieve
	}
	return prefix
}

// PlanOn is the plan for [a, b] on engine e, with its estimate.
func PlanOn(e Engine, a, b uint64) Plan {
	if e == Sieve {
		return Plan{Engine: Sieve, A: a, B: b, Estimate: SieveCost(a, b)}
	}
	cost := PrefixCost(b)
	if a > 2 {
		cost += PrefixCost(a-1) - firstUse(a-1) // paid once
	}
	return Plan{Engine: Prefix, A: a, B: b, Estimate: cost}
}

// Sum computes the sum of the primes in [a, b] with the engine PlanRange
// picks, and returns that plan with it.
func Sum(ctx context.Context, a, b uint64, opt Options) (U128, Plan, error) {
	plan := PlanRange(a, b)
	sum, err := plan.Run(ctx, opt)
	return sum, plan, err
}

// Run computes the plan's sum. The prefix engine computes its two prefixes
// one after the other, each with all of opt's threads. Under
// opt.Background the work between the engines' threaded phases (tables,
// the sieving primes, the final sums) runs on an idle thread too.
func (p Plan) Run(ctx context.Context, opt Options) (U128, error) {
	if !opt.Background {
		return p.run(ctx, opt)
	}
	var (
		sum U128
		err error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		opt.start()
		sum, err = p.run(ctx, opt)
	}()
	<-done
	return sum, err
}

func (p Plan) run(ctx context.Context, opt Options) (U128, error) {
	switch {
	case p.A < 1 || p.A > p.B:
		return U128{}, ErrRange
	case p.Engine == Sieve:
		return SumRange(ctx, p.A, p.B, opt)
	case p.A <= 2:
		return PrefixSum(ctx, p.B, opt)
	}
	lowerCost, upperCost := PrefixCost(p.A-1), PrefixCost(p.B)
	share := float64(lowerCost) / float64(lowerCost+upperCost)
	lower, err := PrefixSum(ctx, p.A-1, opt.with(scaled(opt.Progress, 0, share)))
	if err != nil {
		return U128{}, err
	}
	upper, err := PrefixSum(ctx, p.B, opt.with(scaled(opt.Progress, share, 1)))
	if err != nil {
		return U128{}, err
	}
	return upper.Sub(lower), nil
}

// forward returns a progress function that passes f's reports on only
// when they rise by at least a hundredth (or reach 1), whichever goroutine
// makes them, so that f sees a few dozen, never going back.
func forward(f func(float64)) func(float64) {
	if f == nil {
		return nil
	}
	var mu sync.Mutex
	last := 0.0
	return func(v float64) {
		mu.Lock()
		defer mu.Unlock()
		if v >= last+0.01 || v == 1 && last < 1 {
			last = v
			f(v)
		}
	}
}

// scaled maps a callee's progress 0..1 onto [from, to] of the caller's.
func scaled(f func(float64), from, to float64) func(float64) {
	if f == nil {
		return nil
	}
	return func(v float64) { f(from + v*(to-from)) }
}

// SieveCost estimates SumRange(a, b) on one core: nanoseconds per number,
// growing with b as the sieving primes (up to √b) get more and larger;
// for each of the sieving primes below heldMax, 19 ns of finding it and
// placing it at its first multiple (the large ones' parking, which at
// 10^16 is a quarter of a 10^9-wide range); and setting up, 50 µs and
// 0.7 ns a byte of the worker's buffer (a segment, and a lead and a spill
// as wide as the largest medium prime), which a fresh allocation faults in
// (2 ms of a probe's 15 at 10^11 on the Intel).
//
// Past heldMax² each piece of farSpan numbers also streams the primes from
// heldMax to √b, 9 ns each.
func SieveCost(a, b uint64) time.Duration {
	span := float64(b-a) + 1
	perNumber := interpolate(sieveNanos, math.Log10(float64(b)))
	held := math.Sqrt(min(float64(b), heldMax*heldMax))
	buffer := min(span/30, segBytes) + 2*min(held, mediumMax)
	cost := span*perNumber + 19*piAbout(held) + 0.7*buffer + 5e4
	if b > heldMax*heldMax {
		far := piAbout(math.Sqrt(float64(b))) - piAbout(heldMax)
		cost += (math.Floor((span-1)/farSpan) + 1) * far * 9
	}
	return nanos(cost)
}

// piAbout is about π(x), the count of primes up to x: x / (ln x − 1),
// within 2% of it from 10^3 to 2^32 and at most 4 over below 10^3.
func piAbout(x float64) float64 {
	if x < 8 {
		return 4
	}
	return x / (math.Log(x) - 1)
}

// nanos converts an estimate to a Duration, saturating where a huge range
// would overflow one (and turn negative, passing any limit).
func nanos(ns float64) time.Duration {
	return time.Duration(min(ns, math.MaxInt64/2))
}

// PrefixCost estimates PrefixSum(n) on one core: below drMin, 2.9 ns per
// n^¾ (Lucy's method); from there, setting up (0.2 ms) and nanoseconds per
// n^⅔, the constant falling with the log² n of the method's bound and
// rising as its tables outgrow the caches, plus firstUse if this process
// has not run the method yet.
func PrefixCost(n uint64) time.Duration {
	if n < 2 {
		return 0
	}
	x := float64(n)
	if n < drMin {
		// Lucy's method, read through the combinatorial engine's probe
		// like the rest: 2.2 until the probe, S(10^11), got 12% quicker on
		// 3 December, and S(10^6)'s estimate fell to 0.62–0.70 of its time.
		return nanos(2.9*math.Pow(x, 0.75) + 1e3)
	}
	return nanos(2e5+math.Pow(x, 2.0/3)*interpolate(prefixNanos, math.Log10(x))) + firstUse(n)
}

// firstUse is what a process's first combinatorial sum adds to S(n),
// building the tables every later one shares and growing the heap (0.7 to
// 1.5 ms, measured in fresh processes): a worker pays it once, each
// `sumprimes sum` once.
func firstUse(n uint64) time.Duration {
	if n < drMin || drUsed.Load() {
		return 0
	}
	return time.Millisecond
}

// drUsed is set once a combinatorial sum has run in this process.
var drUsed atomic.Bool

// One-core costs on the reference machine, by log10 of the upper bound:
// nanoseconds per number sieved, and per n^⅔ for the prefix. The reference
// is an Intel Xeon with AVX-512 and 2 MiB of L2 a core, as the engines ran
// there on 2 December (see the README's figures); on 3 December's code the
// same kind of machine took 0.69× its time on both engines (MeasureSpeed's
// probes), and the sieve's figures here are those measured then, divided
// by 0.69, so that the choice between the engines, made on these tables,
// stays the machine's own. Machines differ from it by two times and more,
// and not alike on both engines (an AMD EPYC took 1.3–1.9× its time on the
// prefix engine and 1.5–2.4× on the sieve, as its load came and went):
// MeasureSpeed scales the estimates to the machine at hand. From 10^17 on,
// where the far primes stream through memory, the sieve's figures (and
// its 9 ns a far prime) sit a tenth above the Intel's: scaled by the same
// probe, the Zen 5 of 3 December read a quarter under them there.
var (
	sieveNanos  = [][2]float64{{0, 0.065}, {8, 0.065}, {9, 0.084}, {10, 0.118}, {11, 0.16}, {12, 0.193}, {13, 0.238}, {14, 0.283}, {15, 0.323}, {16, 0.352}, {17, 0.58}, {18, 0.7}, {19, 0.78}, {19.27, 0.81}}
	prefixNanos = [][2]float64{{6, 4}, {7, 1}, {8, 0.95}, {9, 0.84}, {10, 0.8}, {11, 0.699}, {12, 0.58}, {13, 0.488}, {14, 0.432}, {15, 0.368}, {16, 0.317}, {17, 0.294}, {18, 0.294}, {19.3, 0.294}}
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
