package worker

import (
	"runtime"
	"syscall"
)

// background makes the calling goroutine's OS thread its own, at nice 10,
// for good: the goroutine must end without unlocking, and the thread ends
// with it (so no other goroutine ever runs at that priority). A heavy job
// computes on such threads: where they share CPUs with light jobs, the API,
// Kafka or Redis in the same cgroup (one process with both lanes, a shared
// host), those come first, while the heavy job still gets about a tenth of
// a CPU against each busy thread (never starved, as SCHED_IDLE could be),
// and all of it when the CPUs are otherwise idle. Lowering one's own
// priority needs no privilege.
func background() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 10)
}
