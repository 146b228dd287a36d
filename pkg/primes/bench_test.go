package primes_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// BenchmarkSumRange sieves the rows of `make bench-primes`, on one core
// and on all of them.
func BenchmarkSumRange(b *testing.B) {
	for _, r := range [][2]uint64{{1, 1e9}, {1e12, 1e12 + 1e9}, {1e14, 1e14 + 1e9}, {1e16, 1e16 + 1e9}} {
		for _, threads := range []int{1, 0} {
			b.Run(fmt.Sprintf("[%d,%d]/threads=%d", r[0], r[1], threads), func(b *testing.B) {
				for b.Loop() {
					if _, err := primes.SumRange(context.Background(), r[0], r[1], primes.Options{Threads: threads}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(r[1]-r[0])*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gnumbers/s")
			})
		}
	}
}

// BenchmarkPrefixSum runs the prefix engine on one core.
func BenchmarkPrefixSum(b *testing.B) {
	for _, n := range []uint64{1e10, 1e11, 1e12} {
		b.Run(fmt.Sprintf("S(%d)", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := primes.PrefixSum(context.Background(), n, primes.Options{Threads: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
