package primes_test

import (
	"context"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// naiveSum is the reference: a plain sieve over [0, b].
func naiveSum(a, b uint64) uint64 {
	composite := make([]bool, b+1)
	var sum uint64
	for n := uint64(2); n <= b; n++ {
		if composite[n] {
			continue
		}
		if n >= a {
			sum += n
		}
		for m := n * n; m <= b; m += n {
			composite[m] = true
		}
	}
	return sum
}

func sum(t *testing.T, a, b uint64, threads int) string {
	t.Helper()
	got, err := primes.SumRange(context.Background(), a, b, primes.Options{Threads: threads})
	if err != nil {
		t.Fatalf("SumRange(%d, %d): %v", a, b, err)
	}
	return got.String()
}

func TestSumRange(t *testing.T) {
	t.Parallel()

	t.Run("MatchesKnownSumsBelowPowersOfTen", func(t *testing.T) {
		t.Parallel()
		b, known := uint64(1), knownSums[:10]
		if raceEnabled {
			known = known[:8]
		}
		for k, want := range known {
			b *= 10
			if got := sum(t, 1, b, 0); got != want {
				t.Errorf("sum of primes below 10^%d = %s, want %s", k+1, got, want)
			}
		}
	})

	t.Run("HandlesEdges", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			a, b uint64
			want string
		}{
			{1, 1, "0"},
			{2, 2, "2"},
			{1, 2, "2"},
			{3, 3, "3"},
			{4, 4, "0"},
			{1, 10, "17"},
			{9, 9, "0"},
			{97, 97, "97"},
			{24, 28, "0"},
			{1_000_000_007, 1_000_000_007, "1000000007"},
			{1_000_000_008, 1_000_000_008, "0"},
		}
		for _, c := range cases {
			if got := sum(t, c.a, c.b, 0); got != c.want {
				t.Errorf("SumRange(%d, %d) = %s, want %s", c.a, c.b, got, c.want)
			}
		}
	})

	t.Run("AgreesWithNaiveSieveOnRandomRanges", func(t *testing.T) {
		t.Parallel()
		const limit = 3_000_000
		ref := make([]uint64, limit+1) // ref[n] = sum of primes ≤ n
		composite := make([]bool, limit+1)
		for n := uint64(2); n <= limit; n++ {
			ref[n] = ref[n-1]
			if !composite[n] {
				ref[n] += n
				for m := n * n; m <= limit; m += n {
					composite[m] = true
				}
			}
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			a := 1 + rng.Uint64N(limit)
			b := a + rng.Uint64N(limit-a+1)
			want := ref[b] - ref[a-1]
			if got := sum(t, a, b, 1+rng.IntN(4)); got != primesString(want) {
				t.Fatalf("SumRange(%d, %d) = %s, want %d", a, b, got, want)
			}
		}
		if got, want := sum(t, 1, 1000, 1), primesString(naiveSum(1, 1000)); got != want {
			t.Fatalf("reference disagrees with itself: %s vs %s", got, want)
		}
	})
}

// TestSumRangeAgreesAcrossTiers: the sieve's threads, segments, chunks and
// tiers all give the same exact sums.
func TestSumRangeAgreesAcrossTiers(t *testing.T) {
	t.Parallel()

	t.Run("GivesTheSameSumForAnyThreadCount", func(t *testing.T) {
		t.Parallel()
		want := sum(t, 1e9, 1e9+1e8, 1)
		for _, threads := range []int{2, 3, 8} {
			if got := sum(t, 1e9, 1e9+1e8, threads); got != want {
				t.Errorf("threads=%d: %s, want %s", threads, got, want)
			}
		}
	})

	t.Run("AgreesWithPlainSieveAcrossSegmentsChunksAndTiers", func(t *testing.T) {
		t.Parallel()
		// √b passes a megabyte, so small, medium and bucketed primes all
		// cross; the span covers several 1 MiB segments (31.5 million
		// numbers each), so turns spill from one segment into the next,
		// and several threads put chunk starts mid-turn.
		// Near 2·10^15 the primes past 15.7 million join in, whose
		// multiples are a segment or more apart.
		for _, a := range []uint64{1_200_000_000_000, 2_000_000_000_000_000} {
			span := uint64(100_000_000)
			if raceEnabled {
				span = 40_000_000
			}
			want := plainSum(a, a+span)
			for _, threads := range []int{1, 3} {
				if got := sum(t, a, a+span, threads); got != want.String() {
					t.Errorf("threads=%d: SumRange(%d, %d) = %s, want %s", threads, a, a+span, got, want)
				}
			}
		}
	})

	t.Run("AgreesWithPlainSieveOnShortRangesFarOut", func(t *testing.T) {
		t.Parallel()
		// A range shorter than a segment is sieved in a buffer its own
		// length, every prime past it waiting in buckets: from no turn
		// primes at all, through small ones only, to small and medium.
		a := uint64(1_300_000_000_007)
		small := plainPrimes(primes.ISqrt(a + 10_000_000))
		for _, span := range []uint64{0, 1, 29, 30, 31, 1000, 30 * 4095, 30 * 20_000, 30 * 100_000, 10_000_000} {
			want := plainSieve(small, a, a+span)
			if got := sum(t, a, a+span, 1); got != want.String() {
				t.Errorf("SumRange(%d, %d) = %s, want %s", a, a+span, got, want)
			}
		}
	})
}

// TestSumRangeEdgesOfTheDomain: exact past 2^64, refused outside the domain,
// and cancellable.
func TestSumRangeEdgesOfTheDomain(t *testing.T) {
	t.Parallel()

	t.Run("StaysExactPast2To64Near10To16", func(t *testing.T) {
		t.Parallel()
		// ~2,700 primes near 10^16 sum past 2^64; math/big's primality test
		// is exact below 2^64, so it is an independent reference.
		a, b := uint64(1e16-100_000), uint64(1e16)
		want := new(big.Int)
		for n := a | 1; n <= b; n += 2 {
			if v := new(big.Int).SetUint64(n); v.ProbablyPrime(0) {
				want.Add(want, v)
			}
		}
		if want.IsUint64() {
			t.Fatalf("reference %s fits in 64 bits; pick a wider range", want)
		}
		if got := sum(t, a, b, 0); got != want.String() {
			t.Fatalf("SumRange(%d, %d) = %s, want %s", a, b, got, want)
		}
	})

	t.Run("StreamsTheFarPrimesUpTo2To64", func(t *testing.T) {
		t.Parallel()
		// Past 2^54 the sieving primes above 2^27 are streamed; the top of
		// the range crosses 2^64 in every product it forms. (Under the
		// race detector only the range where streaming starts and one
		// streaming the 3 million primes to 2^27.5: the others stream hundreds
		// of millions.)
		ranges := [][2]uint64{{1<<54 - 50_000, 1<<54 + 50_000}, {1 << 55, 1<<55 + 2000}}
		if !raceEnabled {
			ranges = append(ranges, [2]uint64{1e18, 1e18 + 100_000}, [2]uint64{1<<64 - 100_000, 1<<64 - 1}, [2]uint64{1<<64 - 31, 1<<64 - 1})
		}
		for _, r := range ranges {
			want := new(big.Int)
			for n := r[0] | 1; n >= r[0] && n <= r[1]; n += 2 {
				if v := new(big.Int).SetUint64(n); v.ProbablyPrime(0) {
					want.Add(want, v)
				}
			}
			if got := sum(t, r[0], r[1], 0); got != want.String() {
				t.Fatalf("SumRange(%d, %d) = %s, want %s", r[0], r[1], got, want)
			}
			// The far crossings written a few at a time, by one goroutine
			// and by two sharing the bitmap.
			for _, threads := range []int{1, 2} {
				if r[1] > 1<<60 {
					break // as slow as the range itself, four times over
				}
				for _, batch := range []int{1, 7} {
					got, err := primes.SumFarPiece(r[0], r[1], threads, batch)
					if err != nil || got.String() != want.String() {
						t.Fatalf("[%d, %d] on %d threads, far crossings in batches of %d: %s (%v), want %s", r[0], r[1], threads, batch, got, err, want)
					}
				}
			}
		}
	})

	t.Run("SumsAFarRangeOfSeveralPiecesAsItsParts", func(t *testing.T) {
		t.Parallel()
		if raceEnabled {
			t.Skip("billions of numbers past 2^54: too slow under the race detector")
		}
		a, b, m := uint64(1<<54+7), uint64(1<<54+1_500_000_000), uint64(1<<54+321_654_987)
		whole := sum(t, a, b, 0)
		left, err := primes.SumRange(context.Background(), a, m, primes.Options{})
		if err != nil {
			t.Fatal(err)
		}
		right, err := primes.SumRange(context.Background(), m+1, b, primes.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if parts := left.Add(right).String(); parts != whole {
			t.Fatalf("[%d, %d] = %s, but its parts at %d give %s", a, b, whole, m, parts)
		}
	})

	t.Run("RejectsBoundsOutsideTheDomain", func(t *testing.T) {
		t.Parallel()
		for _, r := range [][2]uint64{{0, 5}, {5, 4}, {0, 0}} {
			if _, err := primes.SumRange(context.Background(), r[0], r[1], primes.Options{}); !errors.Is(err, primes.ErrRange) {
				t.Errorf("SumRange(%d, %d) error = %v, want ErrRange", r[0], r[1], err)
			}
		}
	})

	t.Run("StopsWhenCancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := primes.SumRange(ctx, 1, 1e12, primes.Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
}

func primesString(v uint64) string { return primes.U128{Lo: v}.String() }

// plainSum is a second reference for large bounds (a ≥ 3): a textbook
// segmented sieve over the odd numbers of [a, b], ten million at a time.
func plainSum(a, b uint64) *big.Int {
	return plainSieve(plainPrimes(primes.ISqrt(b)), a, b)
}

// plainPrimes returns the odd primes up to n: a sieve of Eratosthenes over
// the odd numbers, one bool each.
func plainPrimes(n uint64) []uint64 {
	composite := make([]bool, n/2+1) // index i stands for 2i + 1
	var odd []uint64
	for m := uint64(3); m <= n; m += 2 {
		if composite[m/2] {
			continue
		}
		odd = append(odd, m)
		for k := m * m; k <= n; k += 2 * m {
			composite[k/2] = true
		}
	}
	return odd
}

func plainSieve(small []uint64, a, b uint64) *big.Int {
	total := new(big.Int)
	const window = 10_000_000
	for lo := a | 1; lo <= b; lo += window {
		hi := min(lo+window-1, b)
		composite := make([]bool, (hi-lo)/2+1) // index i stands for lo + 2i
		for _, p := range small {
			m := max(p*p, (lo+p-1)/p*p)
			if m%2 == 0 {
				m += p
			}
			for ; m <= hi; m += 2 * p {
				composite[(m-lo)/2] = true
			}
		}
		var part uint64 // carried into total before it would wrap (from about 10^14 on)
		for i, c := range composite {
			if v := lo + 2*uint64(i); !c {
				if part > math.MaxUint64-v {
					total.Add(total, new(big.Int).SetUint64(part))
					part = 0
				}
				part += v
			}
		}
		total.Add(total, new(big.Int).SetUint64(part))
	}
	return total
}

func TestU128(t *testing.T) {
	t.Parallel()
	max64 := primes.U128{Lo: ^uint64(0)}
	if got := max64.Add64(1).String(); got != "18446744073709551616" {
		t.Errorf("2^64 - 1 + 1 = %s", got)
	}
	if got := max64.Add(max64).Sub(max64).String(); got != "18446744073709551615" {
		t.Errorf("(x + x) - x = %s", got)
	}
	if got := (primes.U128{Hi: 1}).Sub(primes.U128{Lo: 1}); got != max64 {
		t.Errorf("2^64 - 1 = %+v", got)
	}
}
