package primes

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCrossBlockAgreesWithGo checks crossBlock (crossEntries where there
// is one) against crossGo on random entries, with buckets nearly full so
// that both spill: the same window bits and the same entries in every
// bucket, in the same order.
func TestCrossBlockAgreesWithGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := newSieve(1e16, 1e16+1e9) // primes to 10^8: the most buckets
	for round := range 20 {
		fast, slow := newSieveWorker(s), newSieveWorker(s)
		nb := uint64(len(fast.buckets))
		var es []bucketEntry
		for range 1 + rng.IntN(3*bucketBlock) {
			a := rng.Uint64N(heldMax / 30)
			es = append(es, packEntry(a, rng.Uint64N(winBytes), rng.Uint64N(8), rng.Uint64N(bigPhi)))
		}
		// Some buckets start a few entries short of full.
		for i := range nb {
			if n := rng.IntN(bucketBlock + 1); rng.IntN(4) == 0 {
				for _, w := range []*sieveWorker{fast, slow} {
					for range n {
						w.push(&w.buckets[i], bucketEntry(i))
					}
				}
			}
		}
		win := rng.Uint64N(1000)
		fastWin, slowWin := new([winBytes]byte), new([winBytes]byte)
		fast.aim(win)
		slow.aim(win)
		fast.crossBlock(fastWin, es)
		slow.crossGo(slowWin, es)
		if *fastWin != *slowWin {
			t.Fatalf("round %d: the windows differ", round)
		}
		for i := range nb {
			if f, s := parked(&fast.buckets[i]), parked(&slow.buckets[i]); !slices.Equal(f, s) {
				t.Fatalf("round %d: bucket %d holds %d entries, want %d (or others)", round, i, len(f), len(s))
			}
		}
	}
}

// parked lists the entries of bucket b in order.
func parked(b *bucket) []bucketEntry {
	var es []bucketEntry
	for k := 0; k <= len(b.full); k++ {
		es = append(es, b.block(k)...)
	}
	return es
}
