package main

import (
	"os"
	"strconv"
	"strings"
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

// threadTimes returns, summed over the process's threads, how long they
// have waited for a core while runnable (the second field of each
// thread's /proc/self/task/TID/schedstat) and the CPU time of the
// drawing threads (the main thread, where Ebiten draws and presents, and
// Mesa's rasterizer threads, llvmpipe-N) and of the others (the node,
// the reader, the collector), and true. Threads that ended no longer
// count, so it is for differences over a short time.
func threadTimes() (delay, draw, other time.Duration, ok bool) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, 0, 0, false
	}
	main := strconv.Itoa(os.Getpid())
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		run, _ := strconv.ParseInt(f[0], 10, 64)
		wait, _ := strconv.ParseInt(f[1], 10, 64)
		delay += time.Duration(wait)
		comm, _ := os.ReadFile("/proc/self/task/" + t.Name() + "/comm")
		if t.Name() == main || strings.HasPrefix(string(comm), "llvmpipe") {
			draw += time.Duration(run)
		} else {
			other += time.Duration(run)
		}
	}
	return delay, draw, other, true
}

// niceOthers sets the nice value of every thread of the process but the
// main thread (the window's: Ebiten runs there) and Mesa's rasterizer
// threads (llvmpipe-N) to nice, and reports how many it changed.
func niceOthers(nice int) int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	pid := os.Getpid()
	n := 0
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil || tid == pid {
			continue
		}
		comm, err := os.ReadFile("/proc/self/task/" + t.Name() + "/comm")
		if err != nil || strings.HasPrefix(string(comm), "llvmpipe") {
			continue
		}
		if cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid); err == nil && 20-cur == nice {
			continue // Getpriority returns 20 - nice
		}
		if syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice) == nil {
			n++
		}
	}
	return n
}
