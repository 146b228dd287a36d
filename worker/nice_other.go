//go:build !linux

package worker

// background leaves the thread as it is where per-thread priorities are
// not Linux's.
func background() {}
