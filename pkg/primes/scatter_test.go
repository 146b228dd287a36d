package primes

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// gatherShuffled runs every piece, sends each part through its encoding,
// and gathers them in a random order.
func gatherShuffled(t *testing.T, pieces []Piece) U128 {
	t.Helper()
	var parts []Part
	for _, p := range pieces {
		part, err := p.Run(context.Background(), Options{Threads: 1})
		if err != nil {
			t.Fatalf("piece %+v: %v", p, err)
		}
		data, err := part.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Part
		if err := back.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, back)
	}
	rand.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	sum, err := Gather(parts)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestScatterGather: the pieces of a plan, each computed alone and
// gathered in any order, add up to the plan's own sum, for both engines
// and for S(b) − S(a−1); every kind of piece is cut into several.
func TestScatterGather(t *testing.T) {
	for _, c := range []struct {
		a, b   uint64
		engine Engine
	}{
		{1e12, 1e12 + 3e7, Sieve},
		{1, 3e11 + 7, Prefix},
		{4e10 + 1, 1e11, Prefix},
		{3, 2e10, Prefix},
	} {
		plan := PlanOn(c.engine, c.a, c.b)
		want, err := plan.Run(context.Background(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		pieces := Scatter(plan, plan.Estimate/60)
		kinds := map[PieceKind]int{}
		var total time.Duration
		for _, p := range pieces {
			kinds[p.Kind]++
			total += p.Estimate
		}
		if len(pieces) < 20 {
			t.Fatalf("[%d, %d] on %s: %d pieces, want about 60", c.a, c.b, c.engine, len(pieces))
		}
		if c.engine == Prefix && (kinds[P2Piece] < 2 || kinds[HardPiece] < 2 || kinds[EasyPiece] < 2 || kinds[BasePiece] < 1) {
			t.Fatalf("S(%d) pieces by kind: %v", c.b, kinds)
		}
		// (A small sieve piece pays its sieving primes again: only S(x)'s
		// pieces share its estimate out.)
		if r := float64(total) / float64(plan.Estimate); c.engine == Prefix && (r < 0.9 || r > 1.1) {
			t.Fatalf("[%d, %d]: the pieces' estimates add up to %.2f of the plan's", c.a, c.b, r)
		}
		if got := gatherShuffled(t, pieces); got != want {
			t.Fatalf("[%d, %d] on %s gathered from %d pieces: %s, want %s", c.a, c.b, c.engine, len(pieces), got, want)
		}
	}
}

// TestScatterSmall: a plan below twice the cost is one piece.
func TestScatterSmall(t *testing.T) {
	plan := PlanRange(1, 1e6)
	if pieces := Scatter(plan, time.Second); len(pieces) != 1 || pieces[0].Kind != RangePiece {
		t.Fatalf("pieces of [1, 10^6]: %+v", pieces)
	}
	if got := gatherShuffled(t, Scatter(plan, time.Second)); got.String() != "37550402023" {
		t.Fatalf("[1, 10^6] gathered: %s", got)
	}
}

// TestGatherIncomplete: a missing or repeated run of a fold is an error,
// not a wrong sum; a piece past its S(x)'s bounds fails to run.
func TestGatherIncomplete(t *testing.T) {
	plan := PlanOn(Prefix, 1, 1e11)
	pieces := Scatter(plan, plan.Estimate/40)
	var parts []Part
	for _, p := range pieces {
		part, err := p.Run(context.Background(), Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part)
	}
	checked := false
	for i, p := range parts {
		if p.Piece.Kind != HardPiece || p.Piece.Lo == 0 {
			continue
		}
		checked = true
		if _, err := Gather(append(parts[:i:i], parts[i+1:]...)); !errors.Is(err, errPiece) {
			t.Fatalf("without hard run %d: %v, want errPiece", i, err)
		}
		if _, err := Gather(append(parts, p)); !errors.Is(err, errPiece) {
			t.Fatalf("with hard run %d twice: %v, want errPiece", i, err)
		}
		break
	}
	if !checked {
		t.Fatal("no hard run past the first")
	}
	bad := Piece{Kind: HardPiece, X: 1e11, Lo: 0, Hi: 1 << 40}
	if _, err := bad.Run(context.Background(), Options{}); !errors.Is(err, errPiece) {
		t.Fatalf("piece past the segments: %v", err)
	}
}
