package primes

import (
	"math"
	"math/bits"
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

// TestPlace checks place on batches of random primes, chunks and reaches
// (near 2^64 too, where p·q can pass it) against a plain search for each
// prime's first multiple p·q in the chunk with q ≥ p coprime to bigMod:
// the same entries and buckets, and the same prime to stop at.
func TestPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var stops [3]int // past the chunk, past the buckets, neither
	for round := range 400 {
		from := rng.Uint64N(1 << 50)
		if round%4 == 0 {
			from = math.MaxUint64/30 - rng.Uint64N(1<<36)
		}
		to := from + 1 + rng.Uint64N(min(maxChunk, math.MaxUint64/30-from))
		reach := rng.Uint64N(300)
		nb := uint64(1) << (1 + rng.IntN(8))
		lo := uint64(firstSieve) + rng.Uint64N(1<<20)
		if round%2 == 0 {
			lo = max(firstSieve, isqrt(30*from)-rng.Uint64N(1<<12)) // some p² in the chunk
		}
		set := sievedPrimes(lo, min(lo+1<<16, 1<<32-1))
		var ps []uint64
		for at, x := set.seek(0); x != 0 && len(ps) < parkBatch; {
			ps = append(ps, (set.first+at)<<3+uint64(bits.TrailingZeros64(x)))
			if x &= x - 1; x == 0 {
				at, x = set.seek(at + 8)
			}
		}
		var es [parkBatch]bucketEntry
		var bs [parkBatch]uint8
		k, used, past := place(ps, from, to, reach, nb, &es, &bs)
		want := 0
		for i, v := range ps {
			a, c := v>>3, v&7
			p := 30*a + wheel[c]
			q := 30 * from / p
			if q*p < 30*from {
				q++
			}
			q = max(p, q)
			for q%2 == 0 || q%3 == 0 || q%5 == 0 || q%7 == 0 || q%11 == 0 {
				q++
			}
			hi, m := bits.Mul64(p, q)
			if hi != 0 || m/30 >= to {
				if q == p {
					if i != used || !past {
						t.Fatalf("round %d: p=%d has p² past the chunk: took %d primes (past %v), want %d (true)", round, p, used, past, i)
					}
					stops[0]++
					break
				}
				continue
			}
			rel := m/30 - from
			if rel/winBytes >= reach {
				if i != used || past {
					t.Fatalf("round %d: p=%d has p² past the buckets: took %d primes (past %v), want %d (false)", round, p, used, past, i)
				}
				stops[1]++
				break
			}
			j := slices.Index(bigWheel[:], uint16(q%bigMod))
			if e := packEntry(a, rel%winBytes, c, uint64(j)); want >= k || es[want] != e || bs[want] != uint8(rel/winBytes%nb) {
				t.Fatalf("round %d: p=%d: entry %d is %#x in bucket %d, want %#x in %d", round, p, want, es[want], bs[want], e, rel/winBytes%nb)
			}
			want++
			if i == len(ps)-1 {
				stops[2]++
			}
		}
		if want != k {
			t.Fatalf("round %d: place made %d entries, want %d", round, k, want)
		}
	}
	if slices.Contains(stops[:], 0) {
		t.Fatalf("the rounds stopped past the chunk, past the buckets and at neither %v times: each wants some", stops)
	}
}

// TestPushAllAgreesWithPush checks pushAll (pushEntries where there is
// one) against push, entry by entry, over enough entries that buckets
// fill blocks and the arena grows: every bucket the same, in order.
func TestPushAllAgreesWithPush(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	s := newSieve(1e16, 1e16+1e9)
	fast, slow := newSieveWorker(s), newSieveWorker(s)
	fast.reserve(1)
	slow.reserve(1)
	for range 20 {
		var es []bucketEntry
		var bs []uint8
		for range rng.IntN(4 * bucketBlock) {
			es = append(es, bucketEntry(rng.Uint64()))
			bs = append(bs, uint8(rng.Uint64N(fast.nb)))
		}
		fast.pushAll(es, bs)
		for i, e := range es {
			slow.push(uint64(bs[i]), e)
		}
	}
	for i := range fast.nb {
		if f, s := fast.parked(i), slow.parked(i); !slices.Equal(f, s) {
			t.Fatalf("bucket %d holds %d entries, want %d (or others)", i, len(f), len(s))
		}
	}
}
