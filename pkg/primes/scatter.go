package primes

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Scatter and gather: a plan cut into pieces that any process can compute,
// in any order, whose parts add up to the plan's sum exactly.
//
// The sieve's pieces are subranges. The combinatorial engine's S(x) is
// cut along its phases (dr.go): one base piece (the tables' own terms),
// P2 by runs of its sieve's bytes, the hard leaves by runs of their
// sieve's segments, the easy leaves by runs of levels. A run of P2 or of
// the hard leaves is computed as if it began its sieve, and Gather folds
// the runs in order (p2Part.then, drBase.prefix), as one process does with
// its threads' chunks.

// PieceKind names what a piece computes.
type PieceKind string

const (
	RangePiece PieceKind = "range" // the sum over [Lo, Hi], by the engine the planner picks
	BasePiece  PieceKind = "base"  // S(X)'s S(y), ordinary and trivial leaves, and the sum below P2's sieve
	P2Piece    PieceKind = "p2"    // S(X)'s P2 over its sieve's wheel bytes [Lo, Hi)
	HardPiece  PieceKind = "hard"  // S(X)'s hard leaves over their sieve's segments [Lo, Hi)
	EasyPiece  PieceKind = "easy"  // S(X)'s easy leaves of levels [Lo, Hi) of easyLevels' list
)

// Piece is one independent part of a plan's sum.
type Piece struct {
	Kind PieceKind `json:"kind"`
	// X is the prefix S(X) a combinatorial piece is part of; Minus marks
	// the pieces of S(a − 1), subtracted.
	X     uint64 `json:"x,omitempty"`
	Minus bool   `json:"minus,omitempty"`
	Lo    uint64 `json:"lo"`
	Hi    uint64 `json:"hi"`
	// Estimate is the piece's share of the plan's estimate.
	Estimate time.Duration `json:"estimateNs"`
}

// Part is a piece's result: for a range, an easy run or the base, its
// sums; for a run of P2, its p2Part; for a run of the hard leaves, its sum
// and then its acc and coef per level.
type Part struct {
	Piece  Piece
	Values []U128
}

// The measured shares of S(x)'s time on one thread (10^16 … 10^17): the
// base (tables, ordinary leaves, the sum below P2's sieve), P2, the hard
// leaves and the easy ones.
const (
	shareBase = 0.005
	shareP2   = 0.045
	shareHard = 0.52
	shareEasy = 0.43
)

// Scatter cuts plan into pieces that take about cost each (on the
// reference machine, as plan.Estimate is), at least one. The sieve's span
// is cut evenly; S(x)'s phases each into their share of the estimate,
// along the work measured to fall on each part of them.
func Scatter(plan Plan, cost time.Duration) []Piece {
	cost = max(cost, time.Microsecond)
	if plan.Engine == Sieve {
		n := uint64(max(1, math.Round(float64(plan.Estimate)/float64(cost))))
		span := plan.B - plan.A // + 1 may wrap
		n = min(n, span/2+1)
		step := span / n
		var pieces []Piece
		for i := range n {
			lo, hi := plan.A+i*step, plan.A+(i+1)*step-1
			if i == n-1 {
				hi = plan.B
			}
			pieces = append(pieces, Piece{Kind: RangePiece, Lo: lo, Hi: hi, Estimate: SieveCost(lo, hi)})
		}
		return pieces
	}
	pieces := prefixPieces(plan.B, cost, false)
	if plan.A > 2 {
		pieces = append(pieces, prefixPieces(plan.A-1, cost, true)...)
	}
	return pieces
}

// prefixPieces cuts S(x) into pieces of about cost each.
func prefixPieces(x uint64, cost time.Duration, minus bool) []Piece {
	est := PrefixCost(x)
	if x < drMin || est < 2*cost {
		return []Piece{{Kind: RangePiece, Lo: 1, Hi: x, Minus: minus, Estimate: est}}
	}
	c := tablesFor(x)
	count := func(share float64) int { return max(1, int(math.Round(share*float64(est)/float64(cost)))) }
	share := func(f float64) time.Duration { return time.Duration(f * float64(est)) }
	pieces := []Piece{{Kind: BasePiece, X: x, Minus: minus, Estimate: share(shareBase)}}
	add := func(kind PieceKind, phase float64, cuts []uint64, work []float64) {
		for i := range len(cuts) - 1 {
			if cuts[i] < cuts[i+1] {
				pieces = append(pieces, Piece{Kind: kind, X: x, Minus: minus, Lo: cuts[i], Hi: cuts[i+1], Estimate: share(phase * work[i])})
			}
		}
	}
	if from, to, ok := c.t.p2Bytes(); ok {
		cuts, work := cutByWork(from, to, count(shareP2), func(b uint64) float64 { return p2ByteWork(x, b) })
		add(P2Piece, shareP2, cuts, work)
	}
	y := float64(c.t.y)
	// A hard segment's time: its sieving, and its leaves, which crowd in
	// from t = 0.55·y, peak just above y and thin out as t^−1.45 beyond
	// (measured at 10^16 and 10^17, where a segment at y took 1,800 and
	// 2,300 times one far off, and one below y a fifth of that).
	leafy := 1000 * math.Pow(y/hardSpan, 0.33)
	cuts, work := cutByWork(0, c.t.hardSegments(), count(shareHard), func(s uint64) float64 {
		switch u := (float64(s) + 0.5) * hardSpan / y; {
		case u >= 1:
			return 1 + leafy*math.Pow(u, -1.45)
		case u >= 0.55:
			return 1 + leafy/5
		}
		return 1
	})
	add(HardPiece, shareHard, cuts, work)
	cuts, work = cutByWork(0, uint64(len(c.easy)), count(shareEasy), func(i uint64) float64 {
		l := c.easy[i]
		return float64(l.hi - l.lo)
	})
	add(EasyPiece, shareEasy, cuts, work)
	return pieces
}

// cutByWork cuts [from, to) into about n runs of equal work, unit k
// weighing work(k), sampled on a grid of some 65,536 points; it returns
// the cuts and each run's share of the whole.
func cutByWork(from, to uint64, n int, work func(uint64) float64) ([]uint64, []float64) {
	if to <= from {
		return []uint64{from, to}, []float64{1}
	}
	step := max(1, (to-from)/65536)
	var total float64
	for k := from; k < to; k += step {
		total += work(k) * float64(min(step, to-k))
	}
	cuts, shares, acc, last := []uint64{from}, []float64{}, 0.0, 0.0
	for k := from; k < to; k += step {
		acc += work(k) * float64(min(step, to-k))
		if next := min(k+step, to); next < to && acc >= total*float64(len(cuts))/float64(n) {
			cuts, shares = append(cuts, next), append(shares, (acc-last)/total)
			last = acc
		}
	}
	return append(cuts, to), append(shares, (total-last)/total)
}

// p2ByteWork is the work of P2's wheel byte b: its sieving and the p's
// whose v = x/p falls in it (as p2Starts weighs it).
func p2ByteWork(x, b uint64) float64 {
	const p2PerP = 35
	v := 30*float64(b) + 15
	return 1 + p2PerP*30*float64(x)/(v*v*math.Log(float64(x)/v))
}

// drCache keeps the tables of the last x whose pieces this process
// computed: a worker given many pieces of one S(x) builds them once.
var drCache struct {
	sync.Mutex
	last *drCached
}

type drCached struct {
	x    uint64
	t    *drTables
	easy []easyRun
}

func tablesFor(x uint64) *drCached {
	drCache.Lock()
	defer drCache.Unlock()
	if c := drCache.last; c != nil && c.x == x {
		return c
	}
	c := &drCached{x: x, t: newDRTables(x, drY(x))}
	c.easy = c.t.easyLevels()
	drCache.last = c
	return c
}

// errPiece reports a piece that does not fit its x.
var errPiece = errors.New("primes: piece out of bounds")

// Run computes the piece's part.
func (p Piece) Run(ctx context.Context, opt Options) (Part, error) {
	part := Part{Piece: p}
	if p.Kind == RangePiece {
		if p.Lo < 1 || p.Lo > p.Hi {
			return part, ErrRange
		}
		v, err := PlanRange(p.Lo, p.Hi).Run(ctx, opt)
		part.Values = []U128{v}
		return part, err
	}
	if p.X < drMin || p.Lo > p.Hi {
		return part, fmt.Errorf("%w: %s piece [%d, %d) of S(%d)", errPiece, p.Kind, p.Lo, p.Hi, p.X)
	}
	c := tablesFor(p.X)
	t := c.t
	var err error
	switch p.Kind {
	case BasePiece:
		var b drBase
		b, err = t.base(ctx, opt)
		part.Values = []U128{b.sy, b.leaves, b.below}
	case P2Piece:
		if from, to, ok := t.p2Bytes(); !ok || p.Lo < from || p.Hi > to {
			return part, fmt.Errorf("%w: P2 bytes [%d, %d) of S(%d)", errPiece, p.Lo, p.Hi, p.X)
		}
		var r p2Part
		r, err = t.p2(ctx, opt, p.Lo, p.Hi)
		part.Values = []U128{r.coef, r.weighted, r.sum, r.pairs}
	case HardPiece:
		if p.Hi > t.hardSegments() {
			return part, fmt.Errorf("%w: hard segments [%d, %d) of S(%d)", errPiece, p.Lo, p.Hi, p.X)
		}
		var h hardPart
		h, err = t.hardLeaves(ctx, opt, p.Lo, p.Hi)
		part.Values = h.values()
	case EasyPiece:
		if p.Hi > uint64(len(c.easy)) {
			return part, fmt.Errorf("%w: easy levels [%d, %d) of S(%d)", errPiece, p.Lo, p.Hi, p.X)
		}
		var v U128
		v, err = t.easyLeaves(ctx, opt, c.easy[p.Lo:p.Hi])
		part.Values = []U128{v}
	default:
		return part, fmt.Errorf("%w: unknown kind %q", errPiece, p.Kind)
	}
	return part, err
}

// values lays a hard part out as sum, acc, coef, the levels past the last
// one with a leaf or a count left out (zero).
func (h hardPart) values() []U128 {
	n := len(h.acc)
	for n > 0 && h.acc[n-1] == (U128{}) && h.coef[n-1] == (U128{}) {
		n--
	}
	return slices.Concat([]U128{h.sum}, h.acc[:n], h.coef[:n])
}

// Gather adds up the parts of every piece of a plan exactly: each range
// adds its sum, and each S(x) is folded from its pieces' parts (runs of P2
// and of the hard leaves in order). Pieces of one S(x) missing or
// overlapping are an error, where it can tell.
func Gather(parts []Part) (U128, error) {
	type prefix struct {
		base      *drBase
		easy      U128
		hard, p2s []Part
	}
	type key struct {
		x     uint64
		minus bool
	}
	var sum U128
	add := func(v U128, minus bool) {
		if minus {
			sum = sum.Sub(v)
		} else {
			sum = sum.Add(v)
		}
	}
	prefixes := map[key]*prefix{}
	var keys []key
	for _, p := range parts {
		pc, vs := p.Piece, p.Values
		if pc.Kind == RangePiece {
			if len(vs) != 1 {
				return U128{}, fmt.Errorf("%w: range part with %d values", errPiece, len(vs))
			}
			add(vs[0], pc.Minus)
			continue
		}
		k := key{pc.X, pc.Minus}
		g := prefixes[k]
		if g == nil {
			g = &prefix{}
			prefixes[k] = g
			keys = append(keys, k)
		}
		bad := func() (U128, error) {
			return U128{}, fmt.Errorf("%w: %s part with %d values", errPiece, pc.Kind, len(vs))
		}
		switch pc.Kind {
		case BasePiece:
			if len(vs) != 3 {
				return bad()
			}
			if g.base != nil {
				return U128{}, fmt.Errorf("%w: two base parts of S(%d)", errPiece, pc.X)
			}
			g.base = &drBase{sy: vs[0], leaves: vs[1], below: vs[2]}
		case EasyPiece:
			if len(vs) != 1 {
				return bad()
			}
			g.easy = g.easy.Add(vs[0])
		case HardPiece:
			if len(vs)%2 != 1 {
				return bad()
			}
			g.hard = append(g.hard, p)
		case P2Piece:
			if len(vs) != 4 {
				return bad()
			}
			g.p2s = append(g.p2s, p)
		default:
			return bad()
		}
	}
	for _, k := range keys {
		g := prefixes[k]
		if g.base == nil {
			return U128{}, fmt.Errorf("%w: no base part of S(%d)", errPiece, k.x)
		}
		hard, err := inOrder(g.hard, 0)
		if err != nil {
			return U128{}, err
		}
		var hs []hardPart
		for _, p := range hard {
			n := (len(p.Values) - 1) / 2
			hs = append(hs, hardPart{sum: p.Values[0], acc: p.Values[1 : 1+n], coef: p.Values[1+n:]})
		}
		p2s, err := inOrder(g.p2s, math.MaxUint64)
		if err != nil {
			return U128{}, err
		}
		var ps []p2Part
		for _, p := range p2s {
			v := p.Values
			ps = append(ps, p2Part{coef: v[0], weighted: v[1], sum: v[2], pairs: v[3]})
		}
		add(g.base.prefix(g.easy, hs, ps), k.minus)
	}
	return sum, nil
}

// inOrder sorts runs by their start and checks that they follow each
// other from first (any start when first is MaxUint64).
func inOrder(runs []Part, first uint64) ([]Part, error) {
	runs = slices.SortedFunc(slices.Values(runs), func(a, b Part) int { return cmp.Compare(a.Piece.Lo, b.Piece.Lo) })
	for i, r := range runs {
		want := first
		if i > 0 {
			want = runs[i-1].Piece.Hi
		}
		if want != math.MaxUint64 && r.Piece.Lo != want {
			return nil, fmt.Errorf("%w: %s runs of S(%d) do not follow each other at %d", errPiece, r.Piece.Kind, r.Piece.X, want)
		}
	}
	return runs, nil
}

// MarshalBinary encodes a part: its piece as JSON, then its values, each
// 16 bytes little-endian (a hard run of S(10^18) is some 600 KB).
func (p Part) MarshalBinary() ([]byte, error) {
	head, err := json.Marshal(p.Piece)
	if err != nil {
		return nil, err
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(head)))
	out = append(out, head...)
	for _, v := range p.Values {
		out = binary.LittleEndian.AppendUint64(out, v.Lo)
		out = binary.LittleEndian.AppendUint64(out, v.Hi)
	}
	return out, nil
}

// UnmarshalBinary decodes what MarshalBinary encodes.
func (p *Part) UnmarshalBinary(data []byte) error {
	if len(data) < 4 || uint64(len(data)-4) < uint64(binary.LittleEndian.Uint32(data)) {
		return errors.New("primes: part too short")
	}
	n := binary.LittleEndian.Uint32(data)
	if err := json.Unmarshal(data[4:4+n], &p.Piece); err != nil {
		return fmt.Errorf("primes: part's piece: %w", err)
	}
	rest := data[4+n:]
	if len(rest)%16 != 0 {
		return errors.New("primes: part's values are not whole")
	}
	p.Values = make([]U128, len(rest)/16)
	for i := range p.Values {
		p.Values[i] = U128{Lo: binary.LittleEndian.Uint64(rest[16*i:]), Hi: binary.LittleEndian.Uint64(rest[16*i+8:])}
	}
	return nil
}
