package primes

const haveCrossEntries = true

// crossEntries is crossGo's loop up to the first entry whose bucket is
// full, in assembly; it returns how many entries it took.
//
//go:noescape
func crossEntries(window *[winBytes]byte, es []bucketEntry, heads *[maxBuckets]*bucket, mask uint64) int
