package primes

import (
	"context"
	"math/bits"
)

// PrefixSum returns S(n), the sum of the primes ≤ n, for any 64-bit n,
// without sieving up to n: by the combinatorial method (dr.go) in
// O(n^⅔/log² n) time, or below 2^20, where that method's tables cost more
// than the whole sum, by Lucy_Hedgehog's recurrence. It stops early with
// ctx's error when ctx is cancelled.
func PrefixSum(ctx context.Context, n uint64, opt Options) (U128, error) {
	if n < drMin {
		return lucySum(ctx, n, opt.Progress)
	}
	defer drUsed.Store(true)
	return combinatorialSum(ctx, n, opt)
}

// lucySum returns S(n) by Lucy_Hedgehog's recurrence, in O(n^¾) time and
// O(√n) memory, for n ≤ lucyMax.
//
// It keeps S_j(v), the sum of 2..v after crossing out the multiples of the
// first j primes, for the O(√n) distinct values v = ⌊n/k⌋, and moves from
// S_{j-1} to S_j for each prime p ≤ √n with
//
//	S_j(v) = S_{j-1}(v) − p·(S_{j-1}(⌊v/p⌋) − S_{j-1}(p−1))   for v ≥ p².
//
// The round for p = 2 is done in closed form: after it, S(v) = 2 + the odd
// numbers 3..v, and S(2k+2) = S(2k+1), so the values at v ≤ √n are kept for
// odd v only (half the memory, so more of it stays in cache). They are below
// n and fit in a uint64; only the values at v > √n need 128 bits.
// progress, when not nil, receives the fraction done.
func lucySum(ctx context.Context, n uint64, progress func(float64)) (U128, error) {
	if n > lucyMax {
		return U128{}, ErrRange
	}
	if n < 3 {
		return U128{Lo: min(n, 2) &^ 1}, nil // S(0) = S(1) = 0, S(2) = 2
	}
	r := isqrt(n)
	// odd[k] = S_j(2k+1) for 2k+1 ≤ r, except odd[0] = S(2) = 2 (v = 1 is
	// never looked up), so S_j(v) = odd[(v-1)/2] for 2 ≤ v ≤ r;
	// large[i] = S_j(⌊n/i⌋) for 1 ≤ i ≤ r.
	odd := make([]uint64, (r+1)/2)
	large := make([]U128, r+1)
	for k := range uint64(len(odd)) {
		odd[k] = (k+1)*(k+1) + 1
	}
	for i := uint64(1); i <= r; i++ {
		k := (n/i - 1) / 2
		hi, lo := bits.Mul64(k+1, k+1)
		large[i] = U128{Hi: hi, Lo: lo}.Add64(1)
	}

	nf := float64(n)
	work, done, reported := lucyWork(n, r), 0.0, 0.0
	for p := uint64(3); p <= r; p += 2 {
		sp := odd[(p-2)>>1]
		if odd[(p-1)>>1] == sp {
			continue // p is composite: nothing new to cross out
		}
		if err := ctx.Err(); err != nil {
			return U128{}, err
		}
		p2 := p * p
		last := min(r, n/p2) // large[i] changes only while n/i ≥ p²
		direct := min(last, r/p)
		for i := uint64(1); i <= direct; i++ {
			large[i] = large[i].Sub(large[i*p].Sub(U128{Lo: sp}).Mul64(p))
		}
		for i := direct + 1; i <= last; i++ {
			// ⌊n/(i·p)⌋ through a floating-point quotient corrected to be
			// exact: a hardware integer division would dominate the run.
			ip := i * p
			q := uint64(int64(nf / float64(ip)))
			if q*ip > n {
				q--
			} else if n-q*ip >= ip {
				q++
			}
			hi, lo := bits.Mul64(odd[(q-1)>>1]-sp, p)
			large[i] = large[i].Sub(U128{Hi: hi, Lo: lo})
		}
		// Odd v from r down to p², in blocks [q·p, q·p+p−1] where ⌊v/p⌋ = q.
		for q := r / p; q >= p; q-- {
			d := (odd[(q-1)>>1] - sp) * p
			end := (min(q*p+p-1, r) - 1) / 2
			for k := q * p / 2; k <= end; k++ {
				odd[k] -= d
			}
		}
		if progress != nil {
			done += float64(last+(r-min(r, p2))/2+1) / logf(p)
			if f := min(1, done/work); f-reported >= 0.01 {
				progress(f)
				reported = f
			}
		}
	}
	if progress != nil {
		progress(1)
	}
	return large[1], nil
}

// lucyMax bounds lucySum, as far as it is tested.
const lucyMax = 1e16

// lucyWork estimates the updates lucySum(n) makes, for progress reports:
// Σ over odd primes p ≤ √n of the entries at or above p². Primes are not
// known yet, so every odd number stands in, weighted by 1/ln p, the chance
// that it is prime; lucySum counts the real primes with the same weight.
func lucyWork(n, r uint64) float64 {
	w := 0.0
	for p := uint64(3); p <= r; p += 2 {
		w += float64(min(r, n/(p*p))+(r-min(r, p*p))/2+1) / logf(p)
	}
	return w
}

// Mul64 returns x·m, which the caller guarantees fits in 128 bits.
func (x U128) Mul64(m uint64) U128 {
	hi, lo := bits.Mul64(x.Lo, m)
	return U128{Hi: hi + x.Hi*m, Lo: lo}
}
