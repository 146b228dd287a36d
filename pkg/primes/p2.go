package primes

import (
	"context"
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// p2 returns P2 = Σ_{y < p ≤ √x} p·(S(x/p) − S(p−1)), the sum of the n ≤ x
// that are a product of two primes above y.
//
// S(p−1) comes from sieving (y, √x] in order. The values v = x/p rise as p
// falls, from √x to x/y: the fast sieve goes over [x/√x, x/p_min] in
// chunks, and in each segment the p's whose v falls in it (primes of an
// interval of (y, √x], sieved for it) read S(v) from a cursor moving
// through the segment. A chunk counts from 0; its p's then get S of the
// range before it, times Σ p, once all chunks are done.
func (t *drTables) p2(ctx context.Context, opt Options) (U128, error) {
	x, y := t.x, t.y
	sx := isqrt(x)
	if sx <= y {
		return U128{}, nil
	}
	small := t.primes[2:] // the odd primes up to y ≥ ⁴√x
	var minus U128        // Σ p·S(p−1)
	run := U128{Lo: t.psum[len(t.psum)-1]}
	pMin := uint64(0)
	var buf []uint32
	for lo := y + 1; lo <= sx; lo += primesBlock {
		buf = primesBetween(lo, min(sx, lo+primesBlock-1), small, buf[:0])
		for _, p := range buf {
			minus = minus.Add(run.Mul64(uint64(p)))
			run = run.Add64(uint64(p))
		}
		if pMin == 0 && len(buf) > 0 {
			pMin = uint64(buf[0])
		}
	}
	if pMin == 0 {
		return U128{}, nil
	}
	lo, hi := x/sx, x/pMin
	before, err := SumRange(ctx, 1, lo-1, opt.with(nil))
	if err != nil {
		return U128{}, err
	}
	s := newSieve(lo, hi)
	s.yield, s.background = opt.Yield, opt.Background
	chunks, per, threads := s.plan(opt.Threads)
	type part struct {
		coef          uint64 // Σ p over the chunk's p's
		weighted, sum U128   // Σ p·(S(v) within the chunk); the chunk's primes
		ps            []uint32
	}
	parts := make([]part, chunks)
	segs := (s.last - s.first + segBytes) / segBytes
	var done atomic.Uint64
	s.each(ctx, threads, chunks, per, func(c uint64, buf []byte, start uint64) {
		pt := &parts[c]
		first := max(30*start, lo)
		last := min(30*(start+uint64(len(buf)))-1, hi)
		// v = ⌊x/p⌋ ∈ [first, last] ⇔ x/(last+1) < p ≤ x/first; p falling,
		// v rises: the primes a block at a time from the top.
		cur := wheelCursor{buf: buf, start: start}
		pLo, pHi := max(y, x/(last+1))+1, min(sx, x/first)
		for hiB := pHi; hiB >= pLo; {
			loB := max(pLo, hiB-min(hiB, primesBlock-1))
			pt.ps = primesBetween(loB, hiB, small, pt.ps[:0])
			for i := len(pt.ps) - 1; i >= 0; i-- {
				p := uint64(pt.ps[i])
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
		return U128{}, err
	}
	plus := U128{}
	for _, pt := range parts {
		plus = plus.Add(pt.weighted).Add(before.Mul64(pt.coef))
		before = before.Add(pt.sum)
	}
	return plus.Sub(minus), nil
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
