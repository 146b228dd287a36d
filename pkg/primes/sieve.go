// Package primes computes the exact sum of the primes in a closed range [a, b].
//
// The engine is a segmented sieve of Eratosthenes over odd numbers only, one
// bit per odd number, in segments small enough to stay in the CPU's L1 cache.
// A segment's primes are summed a machine word at a time: for the set bits of a
// word w the sum of their positions is Σₖ 2ᵏ·popcount(w & Mₖ) over six fixed
// masks, so summing never visits primes one by one.
package primes

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// MaxN is the largest upper bound the engine accepts. It keeps the sieving
// primes (up to √MaxN) small enough to hold in memory and every sum below 2^128.
const MaxN uint64 = 1e16

// ErrRange reports bounds outside 1 ≤ a ≤ b ≤ MaxN.
var ErrRange = errors.New("primes: range must satisfy 1 ≤ a ≤ b ≤ MaxN")

// Options tune one computation. The zero value is ready to use.
type Options struct {
	// Threads is how many goroutines share one range; 0 means GOMAXPROCS.
	// A worker that already runs several jobs at once may want 1.
	Threads int
}

const (
	segWords  = 4096          // 32 KiB of bits per segment: fits L1d
	segBits   = segWords * 64 // odd numbers per segment
	chunkSegs = 16            // segments a goroutine claims at a time
	wordsSpan = 128           // integers covered by one word (64 odd numbers)
)

// posMasks[k] has bit i set when bit k of i is set, so that the sum of the set
// bit positions of w is Σₖ popcount(w & posMasks[k]) << k.
var posMasks = [6]uint64{
	0xAAAAAAAAAAAAAAAA,
	0xCCCCCCCCCCCCCCCC,
	0xF0F0F0F0F0F0F0F0,
	0xFF00FF00FF00FF00,
	0xFFFF0000FFFF0000,
	0xFFFFFFFF00000000,
}

// SumRange returns the sum of the primes p with a ≤ p ≤ b. It stops early
// with ctx's error when ctx is cancelled.
func SumRange(ctx context.Context, a, b uint64, opt Options) (U128, error) {
	if a < 1 || a > b || b > MaxN {
		return U128{}, fmt.Errorf("%w (got a=%d, b=%d)", ErrRange, a, b)
	}
	var sum U128
	if a <= 2 && 2 <= b {
		sum = sum.Add64(2)
	}
	lo := max(a, 3) | 1 // first odd candidate
	hi := b
	if hi&1 == 0 {
		hi--
	}
	if lo > hi {
		return sum, nil
	}
	s := &sieve{lo: lo, hi: hi, primes: oddPrimesUpTo(isqrt(hi))}
	rest, err := s.run(ctx, opt.Threads)
	if err != nil {
		return U128{}, err
	}
	return sum.Add(rest), nil
}

// sieve sums the primes among the odd numbers lo, lo+2, …, hi.
// Index i stands for the number lo + 2i.
type sieve struct {
	lo, hi uint64
	primes []uint32 // odd primes p with p² ≤ hi, ascending
}

func (s *sieve) count() uint64    { return (s.hi-s.lo)/2 + 1 }
func (s *sieve) segments() uint64 { return (s.count() + segBits - 1) / segBits }

// run shares the segments among goroutines in chunks claimed from a counter,
// so fast and slow goroutines balance without planning.
func (s *sieve) run(ctx context.Context, threads int) (U128, error) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	segs := s.segments()
	chunks := (segs + chunkSegs - 1) / chunkSegs
	threads = int(min(uint64(threads), chunks))

	var (
		claimed atomic.Uint64
		mu      sync.Mutex
		total   U128
		wg      sync.WaitGroup
	)
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]uint64, segWords)
			next := make([]uint64, len(s.primes))
			var local U128
			for ctx.Err() == nil {
				c := claimed.Add(1) - 1
				if c >= chunks {
					break
				}
				first := c * chunkSegs
				last := min(first+chunkSegs, segs)
				local = local.Add(s.sumSegments(first, last, buf, next))
			}
			mu.Lock()
			total = total.Add(local)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return U128{}, err
	}
	return total, nil
}

// sumSegments sieves and sums segments [first, last). buf holds one segment;
// next[j] is the index of the next odd multiple of primes[j] to cross off.
func (s *sieve) sumSegments(first, last uint64, buf, next []uint64) U128 {
	n := s.count()
	i0 := first * segBits
	n0 := s.lo + 2*i0
	for j, p32 := range s.primes {
		p := uint64(p32)
		m := p * p
		if m < n0 {
			m = (n0 + p - 1) / p * p
			if m&1 == 0 {
				m += p
			}
		}
		next[j] = (m - s.lo) / 2
	}

	var sum U128
	for seg := first; seg < last; seg++ {
		i0 := seg * segBits
		i1 := min(i0+segBits, n)
		nEnd := s.lo + 2*(i1-1) // last number in this segment
		clear(buf)
		for j, p32 := range s.primes {
			p := uint64(p32)
			if p*p > nEnd {
				break
			}
			k := next[j]
			for ; k < i1; k += p {
				off := k - i0
				buf[off>>6] |= 1 << (off & 63)
			}
			next[j] = k
		}
		sum = sum.Add(sumWords(buf[:(i1-i0+63)/64], s.lo+2*i0, i1-i0))
	}
	return sum
}

// sumWords sums the numbers whose bits are clear among the first count bits
// of buf, where bit i stands for n0 + 2i.
func sumWords(buf []uint64, n0, count uint64) U128 {
	var sum U128
	for w, x := range buf {
		x = ^x
		if rem := count - uint64(w)*64; rem < 64 {
			x &= 1<<rem - 1
		}
		if x == 0 {
			continue
		}
		c := uint64(bits.OnesCount64(x))
		pos := uint64(bits.OnesCount64(x & posMasks[0]))
		pos += uint64(bits.OnesCount64(x&posMasks[1])) << 1
		pos += uint64(bits.OnesCount64(x&posMasks[2])) << 2
		pos += uint64(bits.OnesCount64(x&posMasks[3])) << 3
		pos += uint64(bits.OnesCount64(x&posMasks[4])) << 4
		pos += uint64(bits.OnesCount64(x&posMasks[5])) << 5
		h, l := bits.Mul64(c, n0+uint64(w)*wordsSpan)
		sum = sum.Add(U128{Hi: h, Lo: l}).Add64(2 * pos)
	}
	return sum
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
