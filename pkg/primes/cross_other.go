//go:build !amd64

package primes

const haveCrossEntries = false

func crossEntries(window *[winBytes]byte, es []bucketEntry, tails *[maxBuckets]uint64, arena *bucketEntry, here, mask uint64) (n, filled int) {
	panic("primes: crossEntries is amd64 only")
}

func pushEntries(es []bucketEntry, bs []uint8, tails *[maxBuckets]uint64, arena *bucketEntry) (n, filled int) {
	panic("primes: pushEntries is amd64 only")
}
