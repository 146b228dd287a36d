//go:build !linux

package primes

// idleThread does nothing where SCHED_IDLE does not exist.
func idleThread() {}

// osYield does nothing here: Background changes no priority.
func osYield() {}
