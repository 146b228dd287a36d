package worker

import (
	"runtime"
	"syscall"
)

// background makes the calling goroutine's OS thread its own, at nice 10,
// for good: the goroutine must end without unlocking, and the thread ends
// with it (so no other goroutine ever runs at that priority). A heavy job
// computes on such threads: where it shares CPUs with light jobs, the API,
// Kafka or Redis, they come first, and where it has the CPUs to itself it
// loses nothing. Raising one's own nice value needs no privilege.
func background() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 10)
}
