package primes

const haveCrossEntries = true

// crossEntries is crossGo's loop in assembly, up to the first entry whose
// bucket's block it fills: it returns how many entries it took and that
// bucket, or −1 when no block filled.
//
//go:noescape
func crossEntries(window *[winBytes]byte, es []bucketEntry, tails *[maxBuckets]uint64, arena *bucketEntry, here, mask uint64) (n, filled int)

// pushEntries is pushAll's loop in assembly, up to the first entry whose
// bucket's block it fills: it returns how many entries it took and that
// bucket, or −1 when none filled.
//
//go:noescape
func pushEntries(es []bucketEntry, bs []uint8, tails *[maxBuckets]uint64, arena *bucketEntry) (n, filled int)
