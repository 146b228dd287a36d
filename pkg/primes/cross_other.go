//go:build !amd64

package primes

const haveCrossEntries = false

func crossEntries(window *[winBytes]byte, es []bucketEntry, heads *[maxBuckets]*bucket, mask uint64) int {
	panic("primes: crossEntries is amd64 only")
}
