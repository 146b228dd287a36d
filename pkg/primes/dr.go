package primes

import (
	"context"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// The combinatorial engine: Deléglise and Rivat's method for π(x), carried
// over to sums of primes. Let φ(t, b) be the sum of the n ≤ t that no prime
// among the first b divides (1 included). With y ≥ ∛x, a = π(y) and p_k the
// k-th prime,
//
//	S(x) = S(y) + φ(x, a) − 1 − P2,   P2 = Σ_{y < p ≤ √x} p·(S(x/p) − S(p−1)),
//
// P2 being the sum of the n = p·q ≤ x with y < p ≤ q. Expanding φ(x, a)
// with φ(t, b) = φ(t, b−1) − p_b·φ(t/p_b, b−1) until either the multiplier
// passes y or b reaches c gives (Deléglise & Rivat 1996)
//
//	φ(x, a) = Σ_{n ≤ y, lpf(n) > p_c} μ(n)·n·φ(x/n, c)                  ordinary leaves
//	        − Σ_{c < b} Σ_{m ≤ y < m·p_b, lpf(m) > p_b} μ(m)·m·p_b·φ(x/(m·p_b), b−1)   special leaves
//
// where lpf is the least prime factor and μ the Möbius function. φ(t, c)
// comes from a table over one period of the wheel of the first c primes.
// A special leaf with p_b > √y has a prime m = q, and t = x/(p_b·q):
//
//   - trivial when t < p_b: φ = 1, summed a whole level at a time;
//   - easy when t < p_b² and t ≤ y: φ = 1 + S(t) − S(p_{b−1}), from the
//     tables up to y, a cluster of q's sharing π(t) at a time;
//   - hard otherwise (always when p_b ≤ √y): φ is read from a sieve of
//     [1, x/y) that crosses off one prime per level b and keeps block
//     counters of what is left (hard.go).
//
// Every sum is kept modulo 2^128. S(x) < 2^128 for every 64-bit x, and
// every step is a ring operation (no division of a wrapped value), so the
// result is exact whatever the intermediate signs and sizes.

// drC primes (2 … 13) make the wheel of drQ that φ(t, drC) is read from.
const (
	drC    = 6
	drQ    = 30030
	drPhiQ = 5760             // numbers in [1, drQ] coprime to it
	drSumQ = drQ * drPhiQ / 2 // their sum
)

// drMin is the least x the engine takes; below it Lucy's method is faster.
const drMin = 1 << 20

// phiTable[r] holds the count and sum of the n in [1, r] coprime to drQ.
var phiTable = sync.OnceValue(func() []struct{ cnt, sum uint32 } {
	t := make([]struct{ cnt, sum uint32 }, drQ)
	var cnt, sum uint32
	for r := 1; r < drQ; r++ {
		if r%2 != 0 && r%3 != 0 && r%5 != 0 && r%7 != 0 && r%11 != 0 && r%13 != 0 {
			cnt++
			sum += uint32(r)
		}
		t[r] = struct{ cnt, sum uint32 }{cnt, sum}
	}
	return t
})

// phiC returns φ(t, drC). With t = k·Q + r, period j < k adds
// drPhiQ·j·Q + drSumQ, and the rest adds cnt(r)·k·Q + sum(r).
func phiC(t uint64, tab []struct{ cnt, sum uint32 }) U128 {
	k, r := t/drQ, t%drQ
	a, b := k, k-1 // k(k−1)/2, halving the even factor
	if k == 0 {
		b = 0
	} else if a%2 == 0 {
		a /= 2
	} else {
		b /= 2
	}
	hi, lo := bits.Mul64(a, b)
	v := U128{Hi: hi, Lo: lo}.Mul64(drQ * drPhiQ)
	hi, lo = bits.Mul64(k, drSumQ+drQ*uint64(tab[r].cnt))
	return v.Add(U128{Hi: hi, Lo: lo}).Add64(uint64(tab[r].sum))
}

// drTables are the primes up to y with π, their running sums, and for
// every n ≤ y coprime to 30: 0 if a square divides n, else μ(n) times the
// index of its least prime factor, capped at lmCap (n = 1: +lmCap, as if
// that factor were infinite). The leaves ask only about n whose least
// factor is past p_drC = 13, so n coprime to 30 are enough, and only
// whether its index passes some b ≤ π(√y), well below the cap, so 2 bytes
// a number do: 16 bytes per 30 numbers (10.9 MB at 10^18, where every n
// would take 40.8).
type drTables struct {
	x, y, z uint64
	primes  []uint32  // primes[k] = p_k; primes[0] = 1 stands for "none"
	blocks  []piBlock // π(t) for t ≤ y; S(t) is psum[π(t)]
	psum    []uint64  // psum[k] = p_1 + … + p_k
	inv     []float64 // inv[k] = 1/p_k
	lm      []int16   // lm[i] is n = lmNumber(i)'s
}

// The numbers coprime to 30 in [1, n] are the lmCount(n) first, lm's
// indexes 0 … lmCount(n) − 1.
func lmCount(n uint64) uint64 { return n/30*8 + uint64(coprimeUpTo[n%30]) }

// lmNumber returns the number coprime to 30 that is the i-th (from 0).
func lmNumber(i uint64) uint64 { return 30*(i/8) + wheel[i%8] }

// coprimeUpTo[r] counts the residues coprime to 30 in [1, r].
var coprimeUpTo = func() (t [30]uint8) {
	for r := 1; r < 30; r++ {
		t[r] = t[r-1]
		if bitOf[r] != 0xFF {
			t[r]++
		}
	}
	return t
}()

const lmCap = math.MaxInt16

func newDRTables(x, y uint64) *drTables {
	t := &drTables{x: x, y: y, z: x / y}
	t.primes = append([]uint32{1, 2}, sievingPrimes(y)...)
	t.psum = make([]uint64, len(t.primes))
	t.inv = make([]float64, len(t.primes))
	t.blocks = make([]piBlock, y/128+1)
	for k := 1; k < len(t.primes); k++ {
		t.psum[k] = t.psum[k-1] + uint64(t.primes[k])
		t.inv[k] = 1 / float64(t.primes[k])
		if k > 1 {
			p := uint64(t.primes[k])
			t.blocks[p/128].bits |= 1 << (p % 128 / 2)
		}
	}
	// 2 is no bit's, so every block counts it in (t < 2 is never asked).
	pi := uint32(1)
	for i := range t.blocks {
		t.blocks[i].pi = pi
		pi += uint32(bits.OnesCount64(t.blocks[i].bits))
	}
	t.lm = make([]int16, lmCount(y))
	for i := range t.lm {
		t.lm[i] = 1
	}
	// Largest prime first, so that the least factor is written last; the
	// sign flips once per prime factor. The multiples coprime to 30 of a
	// prime p ≥ 7 are p·k, k coprime to 30. (2, 3 and 5 divide none.)
	for k := len(t.primes) - 1; k >= 4; k-- {
		p, idx := uint64(t.primes[k]), int16(min(k, lmCap))
		for j, m := uint64(0), p; m <= y; j, m = j+1, p*lmNumber(j+1) {
			i := lmCount(m) - 1
			if t.lm[i] < 0 {
				t.lm[i] = idx
			} else {
				t.lm[i] = -idx
			}
		}
	}
	for _, p := range t.primes[4:] {
		if q := uint64(p) * uint64(p); q <= y {
			for j, m := uint64(0), q; m <= y; j, m = j+1, q*lmNumber(j+1) {
				t.lm[lmCount(m)-1] = 0
			}
		} else {
			break
		}
	}
	t.lm[0] = lmCap // n = 1
	return t
}

// piBlock covers the 128 numbers from 128·i: bit j is 128·i + 2j + 1, set
// when prime; pi is π(128·i − 1), 2 counted from i = 1. A table of y/8
// bytes stays in cache where one of π for every t would not.
type piBlock struct {
	bits uint64
	pi   uint32
}

// piOf returns π(v) for 2 ≤ v ≤ y.
func (t *drTables) piOf(v uint64) int {
	b := &t.blocks[v/128]
	return int(b.pi) + bits.OnesCount64(b.bits&(1<<((v%128+1)/2)-1))
}

// mulU128 returns x·y mod 2^128.
func mulU128(x, y U128) U128 {
	hi, lo := bits.Mul64(x.Lo, y.Lo)
	return U128{Hi: hi + x.Hi*y.Lo + x.Lo*y.Hi, Lo: lo}
}

// drY picks y = α·∛x: a larger α moves work from the hard leaves' sieve
// (of [1, x/y)) to the easy leaves and the tables. The values are the
// measured best on the development machine.
func drY(x uint64) uint64 {
	lx := math.Log10(float64(x))
	alpha := max(1, 0.0035*lx*lx*lx)
	y := uint64(alpha * math.Cbrt(float64(x)))
	return min(max(y, icbrt(x)+1), isqrt(x)-1)
}

// icbrt returns ⌊∛n⌋ exactly.
func icbrt(n uint64) uint64 {
	r := uint64(math.Cbrt(float64(n)))
	for r > 0 && r*r*r > n {
		r--
	}
	for r < 2642245 && (r+1)*(r+1)*(r+1) <= n { // 2642246³ passes 2^64
		r++
	}
	return r
}

// combinatorialSum returns S(x) for x ≥ drMin. Its phases share the
// progress reports by their measured shares of the time; forward passes on
// a few dozen of the many they make. Each phase returns the same part a
// scattered piece of it would (scatter.go), and the parts add up the same
// way.
func combinatorialSum(ctx context.Context, x uint64, opt Options) (U128, error) {
	if opt.Threads <= 0 {
		opt.Threads = runtime.GOMAXPROCS(0)
	}
	progress := forward(opt.Progress)
	t := newDRTables(x, drY(x))
	base, err := t.base(ctx, opt.with(nil))
	if err != nil {
		return U128{}, err
	}
	var p2 p2Part
	if from, to, ok := t.p2Bytes(); ok {
		if p2, err = t.p2(ctx, opt.with(scaled(progress, 0, 0.05)), from, to); err != nil {
			return U128{}, err
		}
	}
	hard, err := t.hardLeaves(ctx, opt.with(scaled(progress, 0.05, 0.6)), 0, t.hardSegments())
	if err != nil {
		return U128{}, err
	}
	easy, err := t.easyLeaves(ctx, opt.with(scaled(progress, 0.6, 1)), t.easyLevels())
	if err != nil {
		return U128{}, err
	}
	report(progress, 1)
	return base.prefix(easy, []hardPart{hard}, []p2Part{p2}), nil
}

// drBase is what S(x) needs of its tables beside the leaves and P2's sieve:
// S(y), the ordinary and the trivial leaves, and the sum of the primes
// below P2's sieve.
type drBase struct {
	sy, leaves, below U128
}

func (t *drTables) base(ctx context.Context, opt Options) (drBase, error) {
	b := drBase{sy: U128{Lo: t.psum[len(t.psum)-1]}, leaves: t.ordinaryLeaves().Add(t.trivialLeaves())}
	if lo, _, ok := t.p2Range(); ok {
		var err error
		if b.below, err = SumRange(ctx, 1, lo-1, opt); err != nil {
			return drBase{}, err
		}
	}
	return b, nil
}

// prefix returns S(x) = S(y) + φ(x, a) − 1 − P2 from the parts of φ's
// leaves and of P2, each list in order.
func (b drBase) prefix(easy U128, hard []hardPart, p2 []p2Part) U128 {
	phi := b.leaves.Add(easy)
	before := []U128(nil) // per level, what the hard parts so far left
	for _, h := range hard {
		if len(before) < len(h.acc) {
			before = append(before, make([]U128, len(h.acc)-len(before))...)
		}
		phi = phi.Add(h.sum)
		for l := range h.coef {
			phi = phi.Add(mulU128(h.coef[l], before[l]))
			before[l] = before[l].Add(h.acc[l])
		}
	}
	var all p2Part
	for _, p := range p2 {
		all = all.then(p)
	}
	return phi.Add(b.sy).Sub(U128{Lo: 1}).Sub(b.p2(all))
}

// p2 returns P2 = Σ p·S(x/p) − Σ p·S(p−1) from the part of its whole sieve:
// S(x/p) is the sum below the sieve plus the part's own, S(p−1) is S(y)
// plus the pairs p < q above y.
func (b drBase) p2(all p2Part) U128 {
	return all.weighted.Add(mulU128(b.below, all.coef)).Sub(all.pairs).Sub(mulU128(b.sy, all.coef))
}

// ordinaryLeaves returns Σ μ(n)·n·φ(x/n, c) over n ≤ y with lpf(n) > p_c.
func (t *drTables) ordinaryLeaves() U128 {
	tab := phiTable()
	var sum U128
	for i, v := range t.lm {
		if v > drC {
			n := lmNumber(uint64(i))
			sum = sum.Add(phiC(t.x/n, tab).Mul64(n))
		} else if v < -drC {
			n := lmNumber(uint64(i))
			sum = sum.Sub(phiC(t.x/n, tab).Mul64(n))
		}
	}
	return sum
}

// easyLevel is one level b's easy leaves: the primes q = p_i, lo < i ≤ hi.
type easyRun struct{ b, lo, hi int }

// easyLevels lists the levels with p_b > √y that have easy leaves (the
// trivial ones are trivialLeaves', the hard ones the sieve's), in order.
func (t *drTables) easyLevels() []easyRun {
	var todo []easyRun
	t.levelsAboveSqrtY(func(b, lo, trivial int) {
		if trivial > lo {
			todo = append(todo, easyRun{b, lo, trivial})
		}
	})
	return todo
}

// trivialLeaves returns the leaves with t < p_b: φ = 1, a level at a time.
func (t *drTables) trivialLeaves() U128 {
	var sum U128
	top := len(t.primes) - 1
	t.levelsAboveSqrtY(func(b, _, trivial int) {
		if trivial < top {
			sum = sum.Add(U128{Lo: t.psum[top] - t.psum[trivial]}.Mul64(uint64(t.primes[b])))
		}
	})
	return sum
}

// levelsAboveSqrtY calls f for each level b with p_b > √y with the bounds
// of its leaves q = p_i: the hard ones have i ≤ lo, the easy ones lo < i ≤
// trivial, and the trivial ones i > trivial.
func (t *drTables) levelsAboveSqrtY(f func(b, lo, trivial int)) {
	x, y := t.x, t.y
	sqrtY, sqrtZ, top := isqrt(y), isqrt(t.z), len(t.primes)-1
	for b := t.piOf(sqrtY) + 1; b < top; b++ {
		p := uint64(t.primes[b])
		// q from just above max(p, y/p) to y: those with q > x/p² are
		// trivial, and below the easy ones come hard ones when p ≤ √z.
		lo := b
		if p <= sqrtZ { // t > y, hard, while p·q ≤ x/(y+1)
			lo = max(lo, t.piOf(min(y, x/(y+1)/p)))
		}
		trivial := top
		if x/p/p < y {
			trivial = max(b, t.piOf(x/p/p))
		}
		f(b, lo, trivial)
	}
}

// easyLeaves returns the easy leaves' share for the levels of todo, whose
// φ the tables give. Each is +p·q·φ(x/(p·q), b−1), μ(q) being −1. The
// levels are shared among opt.Threads goroutines, a level at a time.
func (t *drTables) easyLeaves(ctx context.Context, opt Options, todo []easyRun) (U128, error) {
	work := 0
	for _, l := range todo {
		work += l.hi - l.lo
	}
	var sum U128
	var claimed, done atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(1, opt.Threads) {
		wg.Go(func() {
			opt.start()
			var local U128
			for ctx.Err() == nil {
				i := claimed.Add(1) - 1
				if i >= int64(len(todo)) {
					break
				}
				l := todo[i]
				opt.yield()
				local = local.Add(t.easyLevel(l.b, l.lo, l.hi))
				if d := done.Add(int64(l.hi - l.lo)); opt.Progress != nil {
					opt.Progress(float64(d) / float64(work))
				}
			}
			mu.Lock()
			sum = sum.Add(local)
			mu.Unlock()
		})
	}
	wg.Wait()
	return sum, ctx.Err()
}

// easyLevel sums p·q·(1 + S(t) − S(p_{b−1})) over the primes q = p_i with
// lo < i ≤ hi, t = x/(p·q). Above q ≈ √(6x/p), neighbouring q's share π(t)
// in clusters of three or more, summed a cluster at a time from the
// largest q (least t) down; below it, clusters are short, and a loop
// without branches takes one leaf at a time (cheaper than a cluster's
// branches there: from √(2x/p), the clusters' loop took 6–8% more of the
// easy leaves' time at 10^16).
func (t *drTables) easyLevel(b, lo, hi int) U128 {
	if hi <= lo {
		return U128{}
	}
	xp := t.x / uint64(t.primes[b])
	base := t.psum[b-1] - 1 // φ = S(t) − base, S(t) = psum[π(t)]
	var sum U128            // Σ q·φ
	add := func(k int, qs uint64) {
		h, l := bits.Mul64(t.psum[k]-base, qs)
		sum = sum.Add(U128{Hi: h, Lo: l})
	}
	split := max(lo, min(hi, t.piOf(min(t.y, isqrt(6*xp)))))
	for i := hi; i > split; {
		k := t.piOf(t.quotient(xp, i))
		// Every q > x/(p·p_{k+1}) has π(x/(p·q)) = k.
		j := split
		if k+1 < len(t.primes) {
			j = max(split, t.piOf(min(t.y, t.quotient(xp, k+1))))
		}
		add(k, t.psum[i]-t.psum[j])
		i = j
	}
	for i := lo + 1; i <= split; i++ {
		add(t.piOf(t.quotient(xp, i)), uint64(t.primes[i]))
	}
	return sum.Mul64(uint64(t.primes[b]))
}

// quotient returns ⌊v/p_i⌋ for a quotient below 2^50: a product with the
// prime's reciprocal, corrected to be exact, costs a fraction of a
// hardware division.
func (t *drTables) quotient(v uint64, i int) uint64 {
	q := uint64(t.primes[i])
	d := uint64(int64(float64(int64(v)) * t.inv[i])) // v < 2^63
	if d*q > v {
		d--
	} else if v-d*q >= q {
		d++
	}
	return d
}
