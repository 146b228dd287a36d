package primes

import (
	"context"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestPhiC checks φ(t, 6), the sum of the n ≤ t coprime to 30030, against
// inclusion–exclusion over the divisors d of 30030 in math/big: Σ μ(d)·d·T(t/d)
// with T(m) = m(m+1)/2. Near 2^64 the sums near 2^125 wrap nowhere.
func TestPhiC(t *testing.T) {
	ts := []uint64{0, 1, 16, 17, 30029, 30030, 30031, 1e12 + 39, 1<<63 + 5, 1<<64 - 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		ts = append(ts, rng.Uint64())
	}
	ps := []int64{2, 3, 5, 7, 11, 13}
	for _, v := range ts {
		want := new(big.Int)
		for mask := range 1 << len(ps) {
			d, sign := int64(1), int64(1)
			for i, p := range ps {
				if mask&(1<<i) != 0 {
					d, sign = d*p, -sign
				}
			}
			m := new(big.Int).SetUint64(v / uint64(d))
			term := new(big.Int).Mul(m, new(big.Int).Add(m, big.NewInt(1)))
			term.Rsh(term, 1).Mul(term, big.NewInt(d*sign))
			want.Add(want, term)
		}
		if got := phiC(v, phiTable()); got.Big().Cmp(want) != 0 {
			t.Fatalf("φ(%d, 6) = %s, want %s", v, got, want)
		}
	}
}

// TestMulU128 checks products modulo 2^128 at the edges.
func TestMulU128(t *testing.T) {
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	vals := []U128{{}, {Lo: 1}, {Lo: 1<<64 - 1}, {Hi: 1}, {Hi: 1<<64 - 1, Lo: 1<<64 - 1}, {Hi: 1 << 63}, {Hi: 12345, Lo: 1<<64 - 3}}
	for _, a := range vals {
		for _, b := range vals {
			want := new(big.Int).Mul(a.Big(), b.Big())
			want.Mod(want, mod)
			if got := mulU128(a, b); got.Big().Cmp(want) != 0 {
				t.Fatalf("%s · %s = %s mod 2^128, want %s", a, b, got, want)
			}
		}
	}
}

// p2Of returns P2 from its whole sieve.
func p2Of(t *drTables, opt Options) (U128, error) {
	b, err := t.base(context.Background(), opt)
	if err != nil {
		return U128{}, err
	}
	from, to, ok := t.p2Bytes()
	if !ok {
		return U128{}, nil
	}
	part, err := t.p2(context.Background(), opt, from, to)
	return b.p2(part), err
}

// TestCombinatorialParts: each part of S(x) is checked on its own where an
// independent count is cheap: P2 against a sieve of the products p·q.
func TestCombinatorialP2(t *testing.T) {
	for _, x := range []uint64{1 << 20, 5_000_011, 1e8} {
		tb := newDRTables(x, drY(x))
		got, err := p2Of(tb, Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Σ p·q over primes y < p ≤ q with p·q ≤ x.
		ps := append([]uint32{2}, oddPrimesUpTo(x/tb.y)...)
		want := new(big.Int)
		for i, p := range ps {
			if uint64(p) <= tb.y {
				continue
			}
			for _, q := range ps[i:] {
				if uint64(p)*uint64(q) > x {
					break
				}
				want.Add(want, new(big.Int).SetUint64(uint64(p)*uint64(q)))
			}
		}
		if got.Big().Cmp(want) != 0 {
			t.Fatalf("P2(%d) with y = %d: %s, want %s", x, tb.y, got, want)
		}
	}
	// Past those, one chunk (one thread) against many cut by their work.
	for _, x := range []uint64{1e12, 3e13 + 7} {
		tb := newDRTables(x, drY(x))
		var sums []U128
		for _, threads := range []int{1, 2, 5} {
			if starts := p2Starts(x, x/isqrt(x)/30, x/(tb.y+1)/30, threads); threads > 1 && len(starts) < 8 {
				t.Fatalf("P2(%d) on %d threads: %d chunks, want several a thread", x, threads, len(starts)-1)
			}
			got, err := p2Of(tb, Options{Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			if sums = append(sums, got); got != sums[0] {
				t.Fatalf("P2(%d) on %d threads: %s, on one: %s", x, threads, got, sums[0])
			}
		}
	}
}

// FuzzCombinatorial compares the combinatorial method with Lucy's:
// go test -fuzz FuzzCombinatorial ./pkg/primes
func FuzzCombinatorial(f *testing.F) {
	for _, seed := range []uint64{0, 1, 12345, 1 << 30, 1<<32 - 1} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v uint64) {
		x := drMin + v%(1<<32)
		want, err := lucySum(context.Background(), x, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := combinatorialSum(context.Background(), x, Options{Threads: 2})
		if err != nil || got != want {
			t.Fatalf("S(%d) = %s, %v; Lucy's method says %s", x, got, err, want)
		}
	})
}

// TestISqrtAndICbrtAtTheTop: the float estimate rounds up near 2^64, where
// a square or cube wraps.
func TestISqrtAndICbrtAtTheTop(t *testing.T) {
	for _, n := range []uint64{1<<64 - 1, 1<<64 - 2, (1<<32 - 1) * (1<<32 - 1), (1<<32-1)*(1<<32-1) - 1, 1 << 62} {
		r := isqrt(n)
		if hi, lo := bits.Mul64(r, r); hi != 0 || lo > n {
			t.Errorf("isqrt(%d) = %d: its square passes n", n, r)
		}
		if r < 1<<32-1 {
			if hi, lo := bits.Mul64(r+1, r+1); hi == 0 && lo <= n {
				t.Errorf("isqrt(%d) = %d: %d fits too", n, r, r+1)
			}
		}
		c := icbrt(n)
		if c*c*c > n || c < 2642245 && (c+1)*(c+1)*(c+1) <= n {
			t.Errorf("icbrt(%d) = %d", n, c)
		}
	}
}
