//go:build !race

package primes_test

const raceEnabled = false
