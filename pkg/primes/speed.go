package primes

import (
	"context"
	"math"
	"time"
)

// Speed is how long each engine takes on this machine for what takes one
// second on the machine the planner's tables were measured on. Machines
// differ by two times and more (the README's figures), so the tables alone
// cannot say how long a sum will take here; they can say which engine is
// cheaper, and that choice stays theirs.
type Speed struct {
	Sieve, Prefix float64
}

// Reference is the speed of the tables' own machine.
var Reference = Speed{Sieve: 1, Prefix: 1}

// Probes the speed is measured on: four segments of the sieve, long
// enough that its set-up (a few milliseconds, which the tables do not
// follow closely) is a small part, and a prefix sum whose tables outgrow
// L1 as the larger sums' do; some 15 to 35 ms each.
const (
	probeSieveA  = 100_000_000_000
	probeSieveB  = probeSieveA + 120_000_000
	probePrefixN = 100_000_000_000
)

// MeasureSpeed times both engines on the probes, one thread each, against
// the tables' estimates of the same work: the best of four runs of each
// (the prefix engine's after a smaller sum that builds its tables), so
// that a moment of the machine busy elsewhere counts little. It takes some
// 0.1 to 0.3 s.
func MeasureSpeed(ctx context.Context) (Speed, error) {
	one := Options{Threads: 1}
	best := func(run func() (U128, error)) (time.Duration, error) {
		least := time.Duration(math.MaxInt64)
		for range 4 {
			start := time.Now()
			if _, err := run(); err != nil {
				return 0, err
			}
			least = min(least, time.Since(start))
		}
		return least, nil
	}
	sieve, err := best(func() (U128, error) { return SumRange(ctx, probeSieveA, probeSieveB, one) })
	if err != nil {
		return Speed{}, err
	}
	if _, err := PrefixSum(ctx, probePrefixN/10, one); err != nil { // builds the tables
		return Speed{}, err
	}
	prefix, err := best(func() (U128, error) { return PrefixSum(ctx, probePrefixN, one) })
	if err != nil {
		return Speed{}, err
	}
	return Speed{
		Sieve:  clampSpeed(float64(sieve) / float64(SieveCost(probeSieveA, probeSieveB))),
		Prefix: clampSpeed(float64(prefix) / float64(PrefixCost(probePrefixN))),
	}, nil
}

// clampSpeed keeps a factor within 4× either way: a probe that ran while
// the machine was busy elsewhere must not turn every estimate absurd.
func clampSpeed(f float64) float64 { return min(max(f, 0.25), 4) }

// On returns p with its estimate for a machine of speed s.
func (p Plan) On(s Speed) Plan {
	f := s.Sieve
	if p.Engine == Prefix {
		f = s.Prefix
	}
	p.Estimate = nanos(float64(p.Estimate) * f)
	return p
}
