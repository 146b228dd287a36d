package primes

import (
	"context"
	"encoding/binary"
	"math"
	"math/bits"
	"sync/atomic"
)

// P2 = Σ_{y < p ≤ √x} p·(S(x/p) − S(p−1)) is the sum of the n ≤ x that are
// a product of two primes above y.
//
// The values v = x/p rise as p falls, from √x to x/y: the fast sieve goes
// over [x/√x, x/p_min] in chunks, and in each segment the p's whose v falls
// in it (primes of an interval of (y, √x], sieved for it) read S(v) from a
// cursor moving through the segment. A chunk counts from 0: its p2Part
// holds Σ p, Σ p·(S(v) within the chunk), the chunk's prime sum and Σ p·q
// over its p < q, and consecutive parts fold into one (then). The sum
// below the sieve, S(y) and the folded parts then make P2 (drBase.prefix).

// p2Part is P2's share from a run of the sieve's wheel bytes, counted from
// the run's start.
type p2Part struct {
	coef, weighted, sum, pairs U128
}

// then returns the part of a's run followed by b's: b's v's see a's primes
// below them, and each of b's p's pairs with each of a's (larger) ones.
func (a p2Part) then(b p2Part) p2Part {
	return p2Part{
		coef:     a.coef.Add(b.coef),
		weighted: a.weighted.Add(b.weighted).Add(mulU128(a.sum, b.coef)),
		sum:      a.sum.Add(b.sum),
		pairs:    a.pairs.Add(b.pairs).Add(mulU128(a.coef, b.coef)),
	}
}

// p2Range returns the numbers [lo, hi] P2's sieve covers, x/√x to
// x/p_min, p_min the least prime above y; ok is false when P2 is empty.
func (t *drTables) p2Range() (lo, hi uint64, ok bool) {
	x, y := t.x, t.y
	sx := isqrt(x)
	if sx <= y {
		return 0, 0, false
	}
	small := t.primes[2:] // the odd primes up to y ≥ ⁴√x
	for from := y + 1; from <= sx; from += 1 << 10 {
		if ps := primesBetween(from, min(sx, from+1<<10-1), small, nil); len(ps) > 0 {
			return x / sx, x / uint64(ps[0]), true
		}
	}
	return 0, 0, false
}

// p2Bytes returns the wheel bytes [from, to) of P2's sieve.
func (t *drTables) p2Bytes() (from, to uint64, ok bool) {
	lo, hi, ok := t.p2Range()
	return lo / 30, hi/30 + 1, ok
}

// p2 returns P2's part from wheel bytes [from, to) of its sieve.
func (t *drTables) p2(ctx context.Context, opt Options, from, to uint64) (p2Part, error) {
	x, y := t.x, t.y
	sx := isqrt(x)
	lo, hi, ok := t.p2Range()
	if !ok || from >= to {
		return p2Part{}, nil
	}
	small := t.primes[2:]
	s := newSieve(lo, hi)
	s.opt = opt
	starts := p2Starts(x, from, to-1, opt.Threads)
	threads := min(max(1, opt.Threads), len(starts)-1)
	type part struct {
		coef          uint64 // Σ p over the chunk's p's
		weighted, sum U128   // Σ p·(S(v) within the chunk); the chunk's primes
		pairs         U128   // Σ p·q over the chunk's p < q
		ps            []uint32
	}
	parts := make([]part, len(starts)-1)
	segs := visits(starts)
	var done atomic.Uint64
	s.each(ctx, threads, starts, func(c uint64, buf []byte, start uint64) {
		pt := &parts[c]
		first := max(30*start, lo)
		last := min(30*(start+uint64(len(buf)))-1, hi)
		// v = ⌊x/p⌋ ∈ [first, last] ⇔ x/(last+1) < p ≤ x/first; p falling,
		// v rises: the primes a block at a time from the top.
		cur := wheelCursor{buf: buf, start: start}
		pLo, pHi := max(y, x/(last+1))+1, min(sx, x/first)
		for hiB := pHi; hiB >= pLo; {
			opt.yield() // the first segments take most of the p's
			loB := max(pLo, hiB-min(hiB, primesBlock-1))
			pt.ps = primesBetween(loB, hiB, small, pt.ps[:0])
			for i := len(pt.ps) - 1; i >= 0; i-- {
				if i&1023 == 0 {
					opt.yield() // a block's p's take some 50 µs a thousand
				}
				p := uint64(pt.ps[i])
				ph, pl := bits.Mul64(p, pt.coef) // the larger p's of the chunk, so far
				pt.pairs = pt.pairs.Add(U128{Hi: ph, Lo: pl})
				pt.coef += p
				pt.weighted = pt.weighted.Add(pt.sum.Add(cur.upTo(x / p)).Mul64(p))
			}
			if loB == pLo {
				break
			}
			hiB = loB - 1
		}
		pt.sum = pt.sum.Add(cur.upTo(30*(start+uint64(len(buf))) - 1))
		report(opt.Progress, float64(done.Add(1))/float64(segs))
	})
	if err := ctx.Err(); err != nil {
		return p2Part{}, err
	}
	var all p2Part
	for _, pt := range parts {
		all = all.then(p2Part{coef: U128{Lo: pt.coef}, weighted: pt.weighted, sum: pt.sum, pairs: pt.pairs})
	}
	return all, nil
}

// p2Starts cuts wheel bytes first..last of P2's sieve into chunks of
// about equal work for threads goroutines (as sieve.plan, chunk c is bytes
// [starts[c], starts[c+1])). A byte's work is its sieving and the p's whose
// v = x/p falls in it: about 30·x/(v²·ln(x/v)) of them at v, each some
// p2PerP bytes' worth (primesBetween, the cursor, a 128-bit product). Those
// crowd the first bytes: at x = 10^15 three quarters of the p's have their
// v in the first of some thirty segments, which equal chunks left to one
// goroutine while the other finished early.
func p2Starts(x, first, last uint64, threads int) []uint64 {
	const p2PerP = 35 // measured: some 110 ns a p against 3 ns a byte
	total := last - first + 1
	if threads <= 1 && total <= maxChunk {
		return []uint64{first, last + 1}
	}
	chunks := uint64(max(1, threads)) * 8
	step := max(4096, total/(chunks*64))
	work := func(b uint64) float64 { // a byte's work at wheel byte b
		v := 30*float64(b) + 15
		return 1 + p2PerP*30*float64(x)/(v*v*math.Log(float64(x)/v))
	}
	sum := 0.0
	for b := first; b <= last; b += step {
		sum += work(b) * float64(min(step, last+1-b))
	}
	starts, acc := []uint64{first}, 0.0
	for b := first; b <= last; b += step {
		acc += work(b) * float64(min(step, last+1-b))
		next := min(b+step, last+1)
		if next <= last && (acc >= sum/float64(chunks) || next+step-starts[len(starts)-1] > maxChunk) {
			starts, acc = append(starts, next), 0
		}
	}
	return append(starts, last+1)
}

// wheelCursor sums the primes of a sieved segment of wheel bytes (a clear
// bit is a prime) from its start up to a point that only moves forward.
type wheelCursor struct {
	buf   []byte
	start uint64 // the wheel byte buf[0] is
	pos   int    // buf[:pos] is in sum
	sum   U128
}

// upTo returns the sum of the primes ≤ v in the segment, v within it.
func (c *wheelCursor) upTo(v uint64) U128 {
	k := min(int(v/30-c.start), len(c.buf))
	for ; c.pos+8 <= k; c.pos += 8 {
		word := ^binary.LittleEndian.Uint64(c.buf[c.pos:])
		c.sum = c.sum.Add(weighWord(word, c.start+uint64(c.pos)))
	}
	for ; c.pos < k; c.pos++ {
		c.sum = c.sum.Add(weighWord(uint64(^c.buf[c.pos]), c.start+uint64(c.pos)))
	}
	if k >= len(c.buf) {
		return c.sum
	}
	return c.sum.Add(weighWord(uint64(^c.buf[k]&upToResidue[v%30]), c.start+uint64(k)))
}

// weighWord returns the sum of the numbers whose bits are set in word, its
// first byte being wheel byte at.
func weighWord(word, at uint64) U128 {
	hi, lo := bits.Mul64(uint64(bits.OnesCount64(word)), 30*at)
	return U128{Hi: hi, Lo: lo}.Add64(bitWeights(word))
}

// upToResidue[r] has the bits of the residues ≤ r.
var upToResidue = func() (t [30]byte) {
	for r := range t {
		for j, w := range wheel {
			if w <= uint64(r) {
				t[r] |= 1 << j
			}
		}
	}
	return t
}()

// primesBlock is how many numbers a call of primesBetween takes where the
// primes are used and dropped: its own segment's worth, so that a range
// costs no more in calls than in one, and the list stays some 6,000 long.
const primesBlock = 1 << 16

// primesBetween appends the primes in [lo, hi] (lo ≥ 3, hi < 2^32) to dst,
// with an odd-only byte sieve by the odd primes in small (which must reach
// √hi).
func primesBetween(lo, hi uint64, small []uint32, dst []uint32) []uint32 {
	if lo > hi {
		return dst
	}
	lo |= 1
	var seg [32 << 10]uint8
	for from := lo; from <= hi; from += 2 * uint64(len(seg)) {
		to := min(hi, from+2*uint64(len(seg))-1) // odd numbers from, from+2, … ≤ to
		span := seg[:(to-from)/2+1]
		clear(span)
		for _, p32 := range small {
			p := uint64(p32)
			if p*p > to {
				break
			}
			m := max(p*p, (from+p-1)/p*p)
			if m%2 == 0 {
				m += p
			}
			for j := (m - from) / 2; j < uint64(len(span)); j += p {
				span[j] = 1
			}
		}
		for i, c := range span {
			if c == 0 {
				dst = append(dst, uint32(from+2*uint64(i)))
			}
		}
	}
	return dst
}
