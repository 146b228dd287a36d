package primes

const haveCrossEntries = true

// crossEntries is crossGo's loop in assembly, up to the first entry whose
// bucket's block it fills: it returns how many entries it took and that
// bucket, or −1 when no block filled.
//
//go:noescape
func crossEntries(window *[winBytes]byte, es []bucketEntry, tails *[maxBuckets]uint64, arena *bucketEntry, here, mask uint64) (n, filled int)
