//go:build race

package primes_test

// raceEnabled shrinks the heaviest checks under the race detector, which
// slows the sieve's memory traffic some fifty times; `make test` runs this
// package once more without it, at full size.
const raceEnabled = true
