// Package primes computes exact sums of primes: SumRange for the primes in a
// closed range [a, b], PrefixSum for all primes up to n, and Plan to choose
// between them.
//
// The range engine is a segmented sieve of Eratosthenes on a mod-30 wheel:
// one byte stands for the 8 numbers coprime to 30 in a run of 30, so 2, 3
// and 5 cost nothing. Each segment starts as a copy of a pattern that
// already crosses off 7, 11, 13, 17 and 19; primes up to half a segment then
// cross off along 8 fixed strides, one per residue, and larger primes wait
// in per-segment buckets so that each is touched only where it has a
// multiple. A segment's primes are summed a machine word (240 numbers) at a
// time with popcounts over fixed masks, never one prime at a time.
package primes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// MaxN is the largest upper bound either engine accepts. It keeps the
// sieving primes (up to 10^8) few enough to hold and every sum below 2^128.
const MaxN uint64 = 1e16

// ErrRange reports bounds outside 1 ≤ a ≤ b ≤ MaxN.
var ErrRange = errors.New("primes: range must satisfy 1 ≤ a ≤ b ≤ MaxN")

// Options tune one computation. The zero value is ready to use.
type Options struct {
	// Threads is how many goroutines share one range; 0 means GOMAXPROCS.
	// A worker that already runs several jobs at once may want 1.
	Threads int
	// Progress, when not nil, receives the fraction done (0..1) about a
	// hundred times per computation. It may be called from several
	// goroutines at once and must return quickly.
	Progress func(done float64)
}

const (
	segBytes   = 64 << 10 // one segment: 64 KiB, about L1d + a little of L2, covers 1,966,080 numbers
	smallLimit = segBytes // primes below this cross off along 8 strides; larger ones use buckets
)

// wheel lists the residues mod 30 coprime to 30; bit i of a byte is the
// number 30·byte + wheel[i].
var wheel = [8]uint64{1, 7, 11, 13, 17, 19, 23, 29}

// gaps[i] takes wheel[i] to the next residue: 1→7→11→…→29→31.
var gaps = [8]uint64{6, 4, 2, 4, 2, 4, 6, 2}

// bitOf maps a residue mod 30 to its bit, or 0xFF when not coprime to 30.
var bitOf = func() (t [30]uint8) {
	for r := range t {
		t[r] = 0xFF
	}
	for i, r := range wheel {
		t[r] = uint8(i)
	}
	return t
}()

// presieved lists the primes crossed off by copying patterns rather than by
// sieving, in groups whose products stay below a megabyte: a group's byte
// pattern repeats every product-of-its-primes bytes (each is coprime to 30).
var presieved = [][]uint64{
	{7, 11, 13, 17, 19},
	{23, 29, 31},
	{37, 41, 43},
	{47, 53, 59},
	{61, 67, 71},
	{73, 79, 83},
}

// firstSieve is the first prime not in a pattern.
const firstSieve = 89

// pattern is one group's crossed-off bytes, one period plus a segment, so
// that a segment's worth can be read from any phase without wrapping.
type pattern struct {
	period uint64
	bytes  []byte
}

// patterns is built on first use (about a megabyte), not at start-up of
// every command that links this package.
var patterns = sync.OnceValue(func() []pattern {
	out := make([]pattern, len(presieved))
	for g, group := range presieved {
		period := uint64(1)
		for _, p := range group {
			period *= p
		}
		pat := make([]byte, period+segBytes)
		for _, p := range group {
			for m := p; m < 30*uint64(len(pat)); m += 2 * p {
				if b := bitOf[m%30]; b != 0xFF {
					pat[m/30] |= 1 << b
				}
			}
		}
		out[g] = pattern{period: period, bytes: pat}
	}
	return out
})

// Masks for summing a word: the set bits' byte indexes (0..7) and residues.
const (
	bytesOnes = 0x0101010101010101
	byteIdx1  = 0xFF00FF00FF00FF00 // bytes whose index has bit 0 set
	byteIdx2  = 0xFFFF0000FFFF0000
	byteIdx4  = 0xFFFFFFFF00000000
	resBit2   = 0x66 * bytesOnes // residues with bit 1 set: 7, 11, 19, 23
	resBit4   = 0xCA * bytesOnes // bit 2: 7, 13, 23, 29
	resBit8   = 0x8C * bytesOnes // bit 3: 11, 13, 29
	resBit16  = 0xF0 * bytesOnes // bit 4: 17, 19, 23, 29
)

// SumRange returns the sum of the primes p with a ≤ p ≤ b. It stops early
// with ctx's error when ctx is cancelled.
func SumRange(ctx context.Context, a, b uint64, opt Options) (U128, error) {
	if a < 1 || a > b || b > MaxN {
		return U128{}, fmt.Errorf("%w (got a=%d, b=%d)", ErrRange, a, b)
	}
	var sum U128
	for _, p := range []uint64{2, 3, 5} {
		if a <= p && p <= b {
			sum = sum.Add64(p)
		}
	}
	for _, group := range presieved { // the patterns cross these off too
		for _, p := range group {
			if a <= p && p <= b {
				sum = sum.Add64(p)
			}
		}
	}
	lo := max(a, firstSieve)
	if lo > b {
		report(opt.Progress, 1)
		return sum, nil
	}
	s := newSieve(lo, b)
	rest, err := s.run(ctx, opt)
	if err != nil {
		return U128{}, err
	}
	return sum.Add(rest), nil
}

func report(f func(float64), v float64) {
	if f != nil {
		f(v)
	}
}

// sieve sums the primes in [lo, hi], lo ≥ 23, over wheel bytes
// first..last (inclusive), where byte j holds the numbers 30j + wheel[i].
type sieve struct {
	lo, hi      uint64
	first, last uint64
	primes      []uint32 // primes from 23 to √hi
	nSmall      int      // primes[:nSmall] are below smallLimit
}

func newSieve(lo, hi uint64) *sieve {
	s := &sieve{lo: lo, hi: hi, first: lo / 30, last: hi / 30}
	all := oddPrimesUpTo(isqrt(hi))
	for len(all) > 0 && all[0] < firstSieve {
		all = all[1:]
	}
	s.primes = all
	for s.nSmall < len(all) && all[s.nSmall] < smallLimit {
		s.nSmall++
	}
	return s
}

// run shares the bytes among goroutines in contiguous chunks claimed from a
// counter. Every chunk pays to place each sieving prime once, so chunks are
// few and large: four per goroutine, for balance.
func (s *sieve) run(ctx context.Context, opt Options) (U128, error) {
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	total := s.last - s.first + 1
	segs := (total + segBytes - 1) / segBytes
	chunks := min(segs, uint64(threads)*4)
	if threads == 1 {
		chunks = 1
	}
	perChunk := (segs + chunks - 1) / chunks * segBytes
	chunks = (total + perChunk - 1) / perChunk
	threads = int(min(uint64(threads), chunks))

	var (
		claimed, segsDone atomic.Uint64
		mu                sync.Mutex
		sum               U128
		wg                sync.WaitGroup
	)
	every := max(1, segs/100)
	onSegment := func() {
		if d := segsDone.Add(1); opt.Progress != nil && (d%every == 0 || d == segs) {
			opt.Progress(float64(d) / float64(segs))
		}
	}
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newSieveWorker(s)
			var local U128
			for ctx.Err() == nil {
				c := claimed.Add(1) - 1
				if c >= chunks {
					break
				}
				from := s.first + c*perChunk
				to := min(from+perChunk, s.last+1)
				part, ok := w.chunk(ctx, from, to, onSegment)
				if !ok {
					break
				}
				local = local.Add(part)
			}
			mu.Lock()
			sum = sum.Add(local)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return U128{}, err
	}
	return sum, nil
}

// sieveWorker is one goroutine's state: its segment buffer, the 8 stride
// offsets of each small prime and the buckets of the larger ones.
type sieveWorker struct {
	s       *sieve
	seg     []byte
	small   []smallPrime
	buckets [][]bucketEntry
	// pending indexes the first larger prime not yet in a bucket: its
	// first multiple, p², lies more than len(buckets) segments ahead.
	pending int
}

// smallPrime crosses off along 8 strides of p bytes: stride i hits the
// multiples p·q with q ≡ wheel[i] (mod 30), all at the same bit.
type smallPrime struct {
	p    uint32
	off  [8]uint32 // next byte to cross, relative to the current segment
	mask [8]uint8
}

// bucketEntry is a larger prime parked in the bucket of the segment where
// its next multiple p·q falls: at byte off of that segment, bit bit, with
// q ≡ wheel[j] (mod 30).
//
// With p = 30a + wheel[c], both the bit of p·q and the distance in bytes to
// the next multiple depend only on c and j (see stepMask, stepCorr), so
// stepping needs no division and no dependency on the previous bit.
type bucketEntry struct {
	a     uint32 // ⌊p/30⌋
	state uint32 // off | c<<24 | j<<27, in 8 bytes to keep bucket traffic low
}

func packEntry(a, off, c, j uint64) bucketEntry {
	return bucketEntry{a: uint32(a), state: uint32(off | c<<24 | j<<27)}
}

// stepMask[c][j] is the bit of p·q for p ≡ wheel[c] and q ≡ wheel[j]
// (mod 30); stepCorr[c][j] is what the byte distance from p·q to p·q' (q'
// the next number coprime to 30) adds to a·gaps[j]:
// ⌊wheel[c]·w'/30⌋ − ⌊wheel[c]·w/30⌋ with w = wheel[j], w' = w + gaps[j].
var stepMask, stepCorr = func() (mask, corr [8][8]uint8) {
	for c, pc := range wheel {
		for j, w := range wheel {
			mask[c][j] = 1 << bitOf[pc*w%30]
			corr[c][j] = uint8(pc*(w+gaps[j])/30 - pc*w/30)
		}
	}
	return mask, corr
}()

func newSieveWorker(s *sieve) *sieveWorker {
	w := &sieveWorker{s: s, seg: make([]byte, segBytes), small: make([]smallPrime, s.nSmall)}
	if n := len(s.primes); n > s.nSmall {
		// A multiple is at most 6p numbers after the previous one, so a
		// prime never skips more than this many buckets ahead.
		pmax := uint64(s.primes[n-1])
		// A power of two, so that picking a bucket is a mask, not a division.
		reach := (6*pmax/30+1)/segBytes + 1
		w.buckets = make([][]bucketEntry, 1<<bits.Len64(reach))
		// Every larger prime sits in one of the next reach buckets; room
		// for twice the average spares the copying of growing slices.
		per := 2 * uint64(n-s.nSmall) / reach
		for i := range w.buckets {
			w.buckets[i] = make([]bucketEntry, 0, per)
		}
	}
	return w
}

// firstMultiple returns the least q ≥ max(p, ⌈30·from/p⌉) coprime to 30:
// p·q is the first multiple of p at or after byte from that p must cross
// (smaller multiples have a smaller prime factor).
func firstMultiple(p, from uint64) uint64 {
	q := max(p, (30*from+p-1)/p)
	for bitOf[q%30] == 0xFF {
		q++
	}
	return q
}

// chunk sieves and sums bytes [from, to), one segment at a time; it reports
// false if ctx ended first.
func (w *sieveWorker) chunk(ctx context.Context, from, to uint64, onSegment func()) (U128, bool) {
	s := w.s
	for k := range w.small {
		sp := &w.small[k]
		p := uint64(s.primes[k])
		sp.p = uint32(p)
		q := firstMultiple(p, from)
		for range 8 {
			m := p * q
			i := bitOf[q%30]
			sp.off[i] = uint32(min(m/30-from, 1<<31)) // far-off starts wait
			sp.mask[i] = 1 << bitOf[m%30]
			q += gaps[i]
		}
	}
	for i := range w.buckets {
		w.buckets[i] = w.buckets[i][:0]
	}
	w.pending = s.nSmall
	nb := uint64(len(w.buckets))

	segs := (to - from + segBytes - 1) / segBytes
	var sum U128
	for segIdx, start := uint64(0), from; start < to; segIdx, start = segIdx+1, start+segBytes {
		if ctx.Err() != nil {
			return U128{}, false
		}
		n := min(uint64(segBytes), to-start)
		buf := w.seg[:n]
		fillPresieve(buf, start)
		w.crossSmall(buf)
		if nb > 0 {
			w.park(from, to, segIdx)
			w.crossLarge(buf, segIdx, segs, nb)
		}
		sum = sum.Add(s.sumSegment(buf, start))
		onSegment()
	}
	return sum, true
}

// park puts pending larger primes into the buckets of the segments holding
// their first multiples, as far as the buckets reach past segment segIdx.
// A prime whose square is before the chunk has its first multiple within
// reach of the buckets (multiples are at most 6p numbers apart). After
// those, primes come in ascending order with first multiple p², so the
// first one out of reach ends the pass.
func (w *sieveWorker) park(from, to, segIdx uint64) {
	s := w.s
	nb := uint64(len(w.buckets))
	for ; w.pending < len(s.primes); w.pending++ {
		p := uint64(s.primes[w.pending])
		q := firstMultiple(p, from)
		m := p * q
		if m/30 >= to {
			if q == p {
				w.pending = len(s.primes) // p² and every larger one lie past the chunk
				return
			}
			continue // no multiple of p in this chunk
		}
		rel := m/30 - from
		seg := rel / segBytes
		if seg >= segIdx+nb {
			return // q == p here: wait until the buckets reach p²
		}
		w.buckets[seg&(nb-1)] = append(w.buckets[seg&(nb-1)], packEntry(p/30, rel%segBytes, uint64(bitOf[p%30]), uint64(bitOf[q%30])))
	}
}

// fillPresieve sets buf to the bytes from start on with the multiples of
// the presieved primes crossed off: a copy of the first pattern, the others
// ORed in a word at a time.
func fillPresieve(buf []byte, start uint64) {
	pats := patterns()
	first := pats[0]
	copy(buf, first.bytes[start%first.period:])
	n := len(buf) &^ 7
	for _, pat := range pats[1:] {
		src := pat.bytes[start%pat.period:]
		src = src[:len(buf)]
		for i := 0; i < n; i += 8 {
			d := binary.LittleEndian.Uint64(buf[i:])
			binary.LittleEndian.PutUint64(buf[i:], d|binary.LittleEndian.Uint64(src[i:]))
		}
		for i := n; i < len(buf); i++ {
			buf[i] |= src[i]
		}
	}
}

func (w *sieveWorker) crossSmall(buf []byte) {
	n := uint32(len(buf))
	for k := range w.small {
		sp := &w.small[k]
		p := sp.p
		for i := range 8 {
			off, mask := sp.off[i], sp.mask[i]
			for ; off < uint32(len(buf)); off += p {
				buf[off] |= mask
			}
			sp.off[i] = off - n
		}
	}
}

// crossLarge crosses off the multiples parked in this segment's bucket and
// parks each prime again in the bucket of its next multiple's segment.
func (w *sieveWorker) crossLarge(buf []byte, segIdx, segs, nb uint64) {
	n := uint64(len(buf))
	buckets := w.buckets
	here := segIdx & (nb - 1)
	bucket := buckets[here]
	for _, e := range bucket {
		a := uint64(e.a)
		off, c, j := uint64(e.state&(1<<24-1)), e.state>>24&7, e.state>>27&7
		for off < n {
			buf[off] |= stepMask[c][j]
			off += a*gaps[j] + uint64(stepCorr[c][j])
			j = (j + 1) & 7
		}
		off -= n // bytes past the end of this segment
		next := segIdx + 1 + off/segBytes
		if next >= segs {
			continue // past the chunk: drop it rather than let a bucket grow
		}
		buckets[next&(nb-1)] = append(buckets[next&(nb-1)], packEntry(a, off%segBytes, uint64(c), uint64(j)))
	}
	buckets[here] = bucket[:0]
}

// sumSegment sums the numbers whose bits are clear in buf, which holds the
// bytes from start on, leaving out numbers outside [lo, hi] and 1.
func (s *sieve) sumSegment(buf []byte, start uint64) U128 {
	n := uint64(len(buf))
	if start <= s.first {
		for i, r := range wheel {
			if 30*s.first+r < s.lo {
				buf[s.first-start] |= 1 << i
			}
		}
	}
	if end := start + n - 1; end == s.last {
		for i, r := range wheel {
			if 30*s.last+r > s.hi {
				buf[n-1] |= 1 << i
			}
		}
	}
	var count, wordSum, byteSum, resSum uint64
	words := n / 8
	for wi := range words {
		x := ^binary.LittleEndian.Uint64(buf[8*wi:])
		if x == 0 {
			continue
		}
		c := uint64(bits.OnesCount64(x))
		count += c
		wordSum += wi * c
		byteSum += uint64(bits.OnesCount64(x&byteIdx1)) +
			uint64(bits.OnesCount64(x&byteIdx2))<<1 +
			uint64(bits.OnesCount64(x&byteIdx4))<<2
		resSum += c +
			uint64(bits.OnesCount64(x&resBit2))<<1 +
			uint64(bits.OnesCount64(x&resBit4))<<2 +
			uint64(bits.OnesCount64(x&resBit8))<<3 +
			uint64(bits.OnesCount64(x&resBit16))<<4
	}
	for i := words * 8; i < n; i++ { // the ragged end of the last segment
		x := ^buf[i]
		for x != 0 {
			b := uint64(bits.TrailingZeros8(x))
			x &= x - 1
			count++
			byteSum += i // counted in bytes from start, like 8·wordSum + byte
			resSum += wheel[b]
		}
	}
	// Σ (30·(start + 8·word + byte) + residue) over the set bits.
	hi, lo := bits.Mul64(30*start, count)
	return U128{Hi: hi, Lo: lo}.Add64(240*wordSum + 30*byteSum + resSum)
}

// oddPrimesUpTo returns the odd primes ≤ n with a plain odd-only sieve; n is at
// most √MaxN = 10^8, so this takes at most 50 MB for an instant.
func oddPrimesUpTo(n uint64) []uint32 {
	if n < 3 {
		return nil
	}
	composite := make([]bool, n/2+1) // index i stands for 2i+1
	var out []uint32
	for i := uint64(1); 2*i+1 <= n; i++ {
		if composite[i] {
			continue
		}
		p := 2*i + 1
		out = append(out, uint32(p))
		for j := p * p / 2; j < uint64(len(composite)); j += p {
			composite[j] = true
		}
	}
	return out
}

// isqrt returns ⌊√n⌋ exactly.
func isqrt(n uint64) uint64 {
	r := uint64(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

func logf(x uint64) float64 { return math.Log(float64(x)) }
