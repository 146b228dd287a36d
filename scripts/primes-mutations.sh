#!/usr/bin/env bash
# make primes-mutations: breaks each term of the combinatorial engine in
# turn (a leaf's φ, its coefficient or its sign, the chunk correction, P2
# and the fold of its runs, the final sum) and checks that pkg/primes' tests fail for every one. The
# sources are restored after each, and on exit whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../pkg/primes"
backup=$(mktemp -d)
cp dr.go hard.go p2.go "$backup"
trap 'cp "$backup"/*.go . && rm -rf "$backup"' EXIT

mutants=(
	'dr.go|sum = sum.Add(phiC(t.x/n, tab).Mul64(n))|sum = sum.Add(phiC(t.x/n+1, tab).Mul64(n))'
	'dr.go|sum = sum.Add(U128{Lo: t.psum[top] - t.psum[trivial]}.Mul64(uint64(t.primes[b])))|sum = sum.Add(U128{Lo: t.psum[top] - t.psum[trivial+1]}.Mul64(uint64(t.primes[b])))'
	'dr.go|add(k, t.psum[i]-t.psum[j])|add(k+1, t.psum[i]-t.psum[j])'
	'dr.go|add(t.piOf(t.quotient(xp, i)), uint64(t.primes[i]))|add(t.piOf(t.quotient(xp, i)+1), uint64(t.primes[i]))'
	'dr.go|base := t.psum[b-1] - 1|base := t.psum[b-1]'
	'hard.go|coefs = coefs.Sub(U128{Lo: m * p})|coefs = coefs.Add(U128{Lo: m * p})'
	'hard.go|coefs = coefs.Add64(m * p)|coefs = coefs.Add64(m*p + 1)'
	'hard.go|hi, lo := bits.Mul64(h.read(t.quotient(xp, i), low), q*p)|hi, lo := bits.Mul64(h.read(t.quotient(xp, i)+1, low), q*p)'
	'hard.go|part.acc[b] = part.acc[b].Add(|part.acc[b] = part.acc[b].Sub('
	'hard.go|whole.sum = whole.sum.Add(mulU128(p.coef[b], whole.acc[b]))|whole.sum = whole.sum.Add(mulU128(p.coef[b], whole.acc[b-1]))'
	'p2.go|pt.weighted = pt.weighted.Add(pt.sum.Add(cur.upTo(x / p)).Mul64(p))|pt.weighted = pt.weighted.Add(pt.sum.Add(cur.upTo(x/p - 1)).Mul64(p))'
	'p2.go|pairs:    a.pairs.Add(b.pairs).Add(mulU128(a.coef, b.coef)),|pairs:    a.pairs.Add(b.pairs),'
	'p2.go|weighted: a.weighted.Add(b.weighted).Add(mulU128(a.sum, b.coef)),|weighted: a.weighted.Add(b.weighted),'
	'dr.go|phi = phi.Add(mulU128(h.coef[l], before[l]))|phi = phi.Add(mulU128(h.coef[l], before[l].Add64(1)))'
	'dr.go|Sub(all.pairs).Sub(mulU128(b.sy, all.coef))|Sub(all.pairs).Sub(mulU128(b.sy.Add64(1), all.coef))'
	'p2.go|ph, pl := bits.Mul64(p, pt.coef)|ph, pl := bits.Mul64(p, pt.coef+p)'
	'dr.go|return phi.Add(b.sy).Sub(U128{Lo: 1}).Sub(b.p2(all))|return phi.Add(b.sy).Sub(b.p2(all))'
)
survived=0
for m in "${mutants[@]}"; do
	IFS='|' read -r file from to <<<"$m"
	cp "$backup/$file" "$file"
	python3 - "$file" "$from" "$to" <<'EOF'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
if old not in text:
    sys.exit(f"{path}: the mutated line is gone: {old}")
open(path, "w").write(text.replace(old, new, 1))
EOF
	if go test -count=1 -run 'TestPrefixSum|TestCombinatorial|TestPlan|TestScatter|TestGather' . >/dev/null 2>&1; then
		echo "SURVIVED  $file: $from"
		survived=$((survived + 1))
	else
		echo "killed    $file: $from"
	fi
	cp "$backup/$file" "$file"
done
echo "primes-mutations: ${#mutants[@]} mutants, $survived survived"
[ "$survived" -eq 0 ]
