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
		fast.reserve(s.last - s.first + 1)
		slow.reserve(s.last - s.first + 1)
		nb := fast.nb
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
						w.push(i, bucketEntry(i))
					}
				}
			}
		}
		here := rng.Uint64N(nb)
		fastWin, slowWin := new([winBytes]byte), new([winBytes]byte)
		fast.here, slow.here = here, here
		fast.crossBlock(fastWin, es)
		slow.crossGo(slowWin, es)
		if *fastWin != *slowWin {
			t.Fatalf("round %d: the windows differ", round)
		}
		for i := range nb {
			if f, s := fast.parked(i), slow.parked(i); !slices.Equal(f, s) {
				t.Fatalf("round %d: bucket %d holds %d entries, want %d (or others)", round, i, len(f), len(s))
			}
		}
	}
}

// parked lists the entries of bucket i in order.
func (w *sieveWorker) parked(i uint64) []bucketEntry {
	var es []bucketEntry
	for _, b := range w.full[i] {
		es = append(es, w.arena[b*bucketBlock:][:bucketBlock]...)
	}
	return append(es, w.arena[w.tails[i]/bucketBlock*bucketBlock:w.tails[i]]...)
}

// TestArenaGrows fills the buckets of a worker readied for a narrow chunk
// past its arena's room: the arena grows, and every bucket keeps its
// entries in order.
func TestArenaGrows(t *testing.T) {
	s := newSieve(1e16, 1e16+1e9)
	w := newSieveWorker(s)
	w.reserve(1)
	room := cap(w.arena)
	want := make([][]bucketEntry, w.nb)
	for k := range 3 * bucketBlock {
		for i := range w.nb {
			e := bucketEntry(i<<32 | uint64(k))
			w.push(i, e)
			want[i] = append(want[i], e)
		}
	}
	if cap(w.arena) <= room {
		t.Fatalf("the arena kept its room of %d entries for %d", room, 3*bucketBlock*w.nb)
	}
	for i := range w.nb {
		if got := w.parked(i); !slices.Equal(got, want[i]) {
			t.Fatalf("bucket %d holds %d entries, want %d (or others)", i, len(got), len(want[i]))
		}
	}
}
