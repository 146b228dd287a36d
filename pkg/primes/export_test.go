package primes

import "context"

// ISqrt lets the tests' reference sieves size themselves as the engine does.
var ISqrt = isqrt

// LucySum is the recurrence PrefixSum uses below 2^20: an independent
// method to check the combinatorial one against.
var LucySum = lucySum

// SumFarPiece sums [a, b], within one piece past heldMax², writing the far
// crossings into the bitmap every batchMax of them, so that the tests can
// flush a batch many times over on a short range.
func SumFarPiece(a, b uint64, threads, batchMax int) (U128, error) {
	s := newSieve(a, b)
	s.far = s.crossFar(context.Background(), threads, batchMax)
	return s.run(context.Background(), Options{Threads: threads})
}
