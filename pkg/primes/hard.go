package primes

import (
	"context"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// The hard special leaves need φ(t, b−1) for t in (y, z): the sum of the
// n ≤ t left after crossing off the multiples of p_1 … p_{b−1}. A sieve of
// [0, z] goes segment by segment; in each, levels b = 2, 3, … cross off p_b
// in turn, and before crossing, the leaves of level b whose t falls in the
// segment read φ(t, b−1) = acc[b] + the sum left in the segment up to t,
// acc[b] being what the earlier segments left at that level.
//
// A segment is a bit per odd number (2 is never left). Counters per block
// of bits keep the count and the sum of the bit indexes still set (packed
// in one word: the sum below bit 40, the count above), so that
// a read adds up whole blocks (a leaf's t only grows within a level, so the
// running total moves forward only) and then the words of one block, their
// index sums weighed from masked popcounts.
const (
	hardSegBits = 1 << 18 // bits (odd numbers) a segment: 32 KiB, in L1d/L2
	hardSpan    = 2 * hardSegBits
	blockShift  = 8  // bits a counter: 2^8 (one tier: a second, of 2^12, cost its clears more than it saved the reads)
	countShift  = 40 // a counter's count sits above its index sum (< 2^36)
	// leafPiece is how many leaves are read between yields (some 35 µs
	// here): the first segments hold most of them.
	leafPiece = 1024
)

// hardPart is a run of segments' share, computed from acc = 0 at its
// start: sum, and per level b the sum acc[b] the run leaves at that level
// and the sum coef[b] of the coefficients of its leaves. The true share
// adds, per level, coef[b] times what the segments before the run left;
// parts of consecutive runs fold into one (drBase.prefix).
type hardPart struct {
	sum       U128
	acc, coef []U128
}

// hardLevels is how many levels the hard leaves sieve: p_b ≤ √z.
func (t *drTables) hardLevels() int { return t.piOf(isqrt(t.z)) } // √z ≤ ∛x ≤ y

// hardSegments is how many segments the hard leaves' sieve of [0, z] takes.
func (t *drTables) hardSegments() uint64 { return t.z/hardSpan + 1 }

// hardLeaves returns the part of Σ −μ(m)·m·p_b·φ(x/(m·p_b), b−1) over the
// hard leaves whose t falls in segments [from, to), as if no segment came
// before from.
func (t *drTables) hardLeaves(ctx context.Context, opt Options, from, to uint64) (hardPart, error) {
	levels := t.hardLevels()
	whole := hardPart{acc: make([]U128, levels+1), coef: make([]U128, levels+1)}
	if levels <= drC || from >= to {
		return whole, nil
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	segs := to - from
	chunks := min(segs, uint64(threads)*64)
	per := (segs + chunks - 1) / chunks
	chunks = (segs + per - 1) / per
	// Parts are folded in order as soon as every earlier one is: chunks are
	// claimed in order, so only about one part a thread waits at a time.
	var (
		mu      sync.Mutex
		waiting = map[uint64]hardPart{}
		next    uint64
		free    []hardPart // folded parts, their slices to reuse
	)
	fold := func(c uint64, part hardPart) {
		mu.Lock()
		defer mu.Unlock()
		waiting[c] = part
		for p, ok := waiting[next]; ok; p, ok = waiting[next] {
			delete(waiting, next)
			next++
			whole.sum = whole.sum.Add(p.sum)
			for b := drC + 1; b <= levels; b++ {
				whole.sum = whole.sum.Add(mulU128(p.coef[b], whole.acc[b]))
				whole.acc[b] = whole.acc[b].Add(p.acc[b])
				whole.coef[b] = whole.coef[b].Add(p.coef[b])
			}
			free = append(free, p)
		}
	}
	newPart := func() hardPart {
		mu.Lock()
		defer mu.Unlock()
		if n := len(free); n > 0 {
			p := free[n-1]
			free = free[:n-1]
			clear(p.acc)
			clear(p.coef)
			return hardPart{acc: p.acc, coef: p.coef}
		}
		return hardPart{acc: make([]U128, levels+1), coef: make([]U128, levels+1)}
	}
	var claimed, done atomic.Uint64
	var wg sync.WaitGroup
	for range min(uint64(threads), chunks) {
		wg.Go(func() {
			opt.start()
			h := newHardSieve(t, levels, opt)
			for ctx.Err() == nil {
				c := claimed.Add(1) - 1
				if c >= chunks {
					return
				}
				part := newPart()
				for s := c * per; s < min(segs, (c+1)*per) && ctx.Err() == nil; s++ {
					opt.yield()
					h.segment((from+s)*hardSpan, &part)
					report(opt.Progress, float64(done.Add(1))/float64(segs))
				}
				fold(c, part)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return hardPart{}, err
	}
	return whole, nil
}

// hardSieve is one goroutine's segment with its counters.
type hardSieve struct {
	t         *drTables
	opt       Options // yields every leafPiece leaves (tick)
	unyielded int     // leaves read since the last yield
	levels    int
	sqrtY     uint64
	words     []uint64
	ctr       []uint64 // per block: set bits << countShift | Σ their indexes
	total     uint64   // the same over the segment
	// the running total of the level being read: bits before at
	at, run uint64
}

func newHardSieve(t *drTables, levels int, opt Options) *hardSieve {
	return &hardSieve{
		t: t, levels: levels, sqrtY: isqrt(t.y), opt: opt,
		words: make([]uint64, hardSegBits/64+1), // a last word, always 0, for read at the segment's end
		ctr:   make([]uint64, hardSegBits>>blockShift),
	}
}

// segment sieves [low, low+hardSpan) level by level, reading the leaves
// that fall in it.
func (h *hardSieve) segment(low uint64, part *hardPart) {
	h.presieve(low)
	x := h.t.x
	for b := drC + 1; b <= h.levels; b++ {
		p := uint64(h.t.primes[b])
		if b > drC {
			if low > x/p/p {
				break // no leaf of this level or above is this high
			}
			h.leaves(b, low, part)
			hi, lo := bits.Mul64(h.total>>countShift, low+1)
			part.acc[b] = part.acc[b].Add(U128{Hi: hi, Lo: lo}.Add64(2 * (h.total & (1<<countShift - 1))))
		}
		h.cross(p, low)
		h.spent(hardSegBits / (64 * p)) // a leaf's time is some 12 clears, a clear one in 5 of p bits
	}
}

// oddWheel has a bit per odd number, set when it is coprime to drQ: a
// period of drQ/2 bits and then a segment more, so that a segment can be
// read from any phase.
var oddWheel = sync.OnceValue(func() []uint64 {
	const period = drQ / 2
	n := period + hardSegBits + 64
	w := make([]uint64, n/64+1)
	// A period and two words by trial, then word k is the 64 bits a period
	// before it, already final.
	first := period/64 + 2
	for i := range 64 * first {
		if v := 2*i + 1; v%3 != 0 && v%5 != 0 && v%7 != 0 && v%11 != 0 && v%13 != 0 {
			w[i/64] |= 1 << (i % 64)
		}
	}
	for k := first; k < len(w); k++ {
		off := 64*k - period
		w[k] = w[off/64]>>(off%64) | w[off/64+1]<<(64-off%64)
	}
	return w
})

// presieve starts the segment at low with the multiples of p_2 … p_c (and
// those primes) crossed off, copied from oddWheel, and counts it.
func (h *hardSieve) presieve(low uint64) {
	pat := oddWheel()
	off := (low / 2) % (drQ / 2)
	wo, sh := off/64, off%64
	for i := range hardSegBits / 64 {
		w := pat[wo+uint64(i)] >> sh
		if sh != 0 {
			w |= pat[wo+uint64(i)+1] << (64 - sh)
		}
		h.words[i] = w
	}
	h.total = 0
	const per = 1 << (blockShift - 6) // words a counter
	for k := range h.ctr {
		var c uint64
		for w := uint64(k) * per; w < uint64(k+1)*per; w++ {
			c += weigh(h.words[w], 64*w)
		}
		h.ctr[k] = c
		h.total += c
	}
}

// cross clears p and its odd multiples from p² on in the segment at low
// (the smaller ones have a smaller prime factor, already crossed off).
func (h *hardSieve) cross(p, low uint64) {
	high := low + hardSpan
	if low <= p && p < high {
		h.clear((p - low) / 2)
	}
	// p·k for k ≥ p coprime to 2310: a k that 2, 3, 5, 7 or 11 divides
	// makes a multiple of a presieved prime (p > 13 here), cleared
	// already.
	k := max(p, (low+p-1)/p)
	r := k % bigMod
	k += uint64(toBig[r])
	j := bigIndex[r]
	for i := (p*k - low) / 2; i < hardSegBits; {
		h.clear(i)
		i += p * uint64(bigGap[j]) / 2
		if j++; j == bigPhi {
			j = 0
		}
	}
}

func (h *hardSieve) clear(i uint64) {
	w, sh := i>>6, i&63
	bit := (h.words[w] >> sh) & 1
	h.words[w] &^= 1 << sh
	d := bit * (1<<countShift | i)
	h.ctr[i>>blockShift] -= d
	h.total -= d
}

// leaves adds the level-b leaves whose t falls in the segment at low: m
// from the largest (least t) down, composite ones when p_b ≤ √y, else the
// primes q whose t passes y.
func (h *hardSieve) leaves(b int, low uint64, part *hardPart) {
	t := h.t
	p := uint64(t.primes[b])
	xp := t.x / p
	mHi := min(t.y, xp/max(low, 1))      // t ≥ low
	mLo := max(t.y/p, xp/(low+hardSpan)) // t < high, m·p > y
	if mLo >= mHi {
		return
	}
	h.at, h.run = 0, 0
	var coefs, sum U128
	if p <= h.sqrtY {
		// m coprime to 30 only (lpf(m) > p ≥ 17): lm's [lmCount(mLo), lmCount(mHi)).
		for i, end := lmCount(mHi), lmCount(mLo); i > end; i-- {
			v := t.lm[i-1]
			if v >= int16(-b) && v <= int16(b) {
				continue // not squarefree, or lpf(m) ≤ p
			}
			h.tick()
			m := lmNumber(i - 1)
			hi, lo := bits.Mul64(h.read(divide(xp, m), low), m*p)
			if v > 0 { // μ(m) = 1: the term is −m·p·φ
				coefs = coefs.Sub(U128{Lo: m * p})
				sum = sum.Sub(U128{Hi: hi, Lo: lo})
			} else {
				coefs = coefs.Add64(m * p)
				sum = sum.Add(U128{Hi: hi, Lo: lo})
			}
		}
	} else {
		hiIdx := t.piOf(min(mHi, t.x/(t.y+1)/p))
		for i, end := hiIdx, max(b, t.piOf(mLo)); i > end; i-- {
			h.tick()
			q := uint64(t.primes[i])
			hi, lo := bits.Mul64(h.read(t.quotient(xp, i), low), q*p)
			coefs = coefs.Add64(q * p)
			sum = sum.Add(U128{Hi: hi, Lo: lo})
		}
	}
	part.sum = part.sum.Add(sum).Add(mulU128(coefs, part.acc[b]))
	part.coef[b] = part.coef[b].Add(coefs)
}

// tick counts a leaf.
func (h *hardSieve) tick() { h.spent(1) }

// spent counts work worth n leaves, yielding once it adds up to leafPiece.
func (h *hardSieve) spent(n uint64) {
	if h.unyielded += int(n); h.unyielded >= leafPiece {
		h.unyielded = 0
		h.opt.yield()
	}
}

// read returns the sum of the numbers ≤ v still set in the segment at low.
// The level's running total moves forward over words to a counter's edge,
// whole counters and then words, as far as each fits before v, so that a
// word is weighed once a level however many leaves fall in it.
func (h *hardSieve) read(v, low uint64) uint64 {
	e := (v - low + 1) / 2 // bits [0, e) are the odd numbers ≤ v
	at, run := h.at, h.run // in registers: the fields would be stored and loaded back a step
	words := h.words
	if at+1<<blockShift <= e {
		for ; at&(1<<blockShift-1) != 0; at += 64 {
			run += weigh(words[at>>6], at)
		}
		for ; at+1<<blockShift <= e; at += 1 << blockShift {
			run += h.ctr[at>>blockShift]
		}
	}
	for ; at+64 <= e; at += 64 {
		run += weigh(words[at>>6], at)
	}
	h.at, h.run = at, run
	run += weigh(words[at>>6]&(1<<(e-at)-1), at) // and a last word's bits below e
	return run>>countShift*(low+1) + 2*(run&(1<<countShift-1))
}

// divide returns ⌊v/d⌋ for a quotient below 2^50, by a floating-point
// division corrected to be exact.
func divide(v, d uint64) uint64 {
	q := uint64(int64(float64(int64(v)) / float64(int64(d)))) // v < 2^63
	if q*d > v {
		q--
	} else if v-q*d >= d {
		q++
	}
	return q
}

// weigh returns a word's counter, its bits standing at at, at+1, …
func weigh(word, at uint64) uint64 {
	n := uint64(bits.OnesCount64(word))
	return n<<countShift | n*at + indexSum(word)
}

// indexSum returns the sum of the positions of x's set bits.
func indexSum(x uint64) uint64 {
	return uint64(bits.OnesCount64(x&0xAAAAAAAAAAAAAAAA)) +
		uint64(bits.OnesCount64(x&0xCCCCCCCCCCCCCCCC))<<1 +
		uint64(bits.OnesCount64(x&0xF0F0F0F0F0F0F0F0))<<2 +
		uint64(bits.OnesCount64(x&0xFF00FF00FF00FF00))<<3 +
		uint64(bits.OnesCount64(x&0xFFFF0000FFFF0000))<<4 +
		uint64(bits.OnesCount64(x&0xFFFFFFFF00000000))<<5
}
