package main

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time the calling thread has used, and true.
// The goroutine that calls it must be locked to its thread for the
// difference of two calls to be its own.
func threadCPU() (time.Duration, bool) {
	const clockThreadCPUTimeID = 3
	return clockCPU(clockThreadCPUTimeID)
}

// processCPU returns the CPU time every thread of the process has used
// (the renderer's too, where it runs in the process, as Mesa's
// llvmpipe does), and true.
func processCPU() (time.Duration, bool) {
	const clockProcessCPUTimeID = 2
	return clockCPU(clockProcessCPUTimeID)
}

func clockCPU(id uintptr) (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
