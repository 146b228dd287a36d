package primes

import (
	"math/big"
	"math/bits"
)

// U128 is an unsigned 128-bit integer. Sums of primes pass 2^64 once b nears
// 10^10, and b ≤ MaxN keeps every sum we compute below 2^128, so U128 is exact
// where a uint64 would silently wrap.
type U128 struct{ Hi, Lo uint64 }

// Add64 returns x + v.
func (x U128) Add64(v uint64) U128 {
	lo, carry := bits.Add64(x.Lo, v, 0)
	return U128{Hi: x.Hi + carry, Lo: lo}
}

// Add returns x + y.
func (x U128) Add(y U128) U128 {
	lo, carry := bits.Add64(x.Lo, y.Lo, 0)
	return U128{Hi: x.Hi + y.Hi + carry, Lo: lo}
}

// Sub returns x − y; the caller guarantees y ≤ x.
func (x U128) Sub(y U128) U128 {
	lo, borrow := bits.Sub64(x.Lo, y.Lo, 0)
	return U128{Hi: x.Hi - y.Hi - borrow, Lo: lo}
}

// Big returns x as a new big.Int.
func (x U128) Big() *big.Int {
	v := new(big.Int).SetUint64(x.Hi)
	v.Lsh(v, 64)
	return v.Or(v, new(big.Int).SetUint64(x.Lo))
}

// String returns x in decimal, the form the API hands to clients.
func (x U128) String() string {
	if x.Hi == 0 {
		return new(big.Int).SetUint64(x.Lo).String()
	}
	return x.Big().String()
}
