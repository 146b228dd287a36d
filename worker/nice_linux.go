package worker

import (
	"runtime"
	"syscall"
	"unsafe"
)

// background makes the calling goroutine's OS thread its own, under
// SCHED_IDLE, for good: the goroutine must end without unlocking, and the
// thread ends with it (so no other goroutine ever runs at that priority).
// A heavy job computes on such threads: where it shares CPUs with light
// jobs, the API, Kafka or Redis, they come first, and where it has the
// CPUs to itself it loses nothing. Lowering one's own priority needs no
// privilege; if the kernel refuses SCHED_IDLE, nice 19 stands in.
func background() {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	const schedIdle = 5 // SCHED_IDLE, sched(7)
	var param struct{ priority int32 }
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param))); errno != 0 {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
	}
}
