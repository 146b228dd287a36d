package primes

import (
	"runtime"
	"syscall"
	"unsafe"
)

// idleThread ties the calling goroutine to its OS thread for good (the
// thread ends with the goroutine, so no other goroutine inherits the
// policy) and puts that thread under SCHED_IDLE, the Linux policy that
// runs a thread only when no other wants the CPU. Any thread may lower its
// own priority so; if the kernel refuses anyway, the thread runs as it
// was, which changes nothing but the priority.
func idleThread() {
	runtime.LockOSThread()
	const schedIdle = 5
	var param struct{ priority int32 }
	syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedIdle, uintptr(unsafe.Pointer(&param)))
}

// osYield offers the calling thread's CPU to any other runnable thread
// (sched_yield); it returns at once when there is none.
func osYield() { syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
