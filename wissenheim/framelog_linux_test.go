package main

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

// A window's threads that do not draw yield to those that do: every
// thread but the main one (and Mesa's rasterizers, none here) gets the
// nice value, and the main thread keeps its own.
func TestNiceOthersLeavesTheMainThread(t *testing.T) {
	before, err := syscall.Getpriority(syscall.PRIO_PROCESS, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A thread of its own for this goroutine, which is not the main one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	if niceOthers(7) == 0 {
		t.Fatal("no thread changed")
	}
	if p, _ := syscall.Getpriority(syscall.PRIO_PROCESS, tid); 20-p != 7 {
		t.Errorf("this thread's nice value is %d, want 7", 20-p)
	}
	if p, _ := syscall.Getpriority(syscall.PRIO_PROCESS, os.Getpid()); p != before {
		t.Errorf("the main thread's priority moved from %d to %d", before, p)
	}
}
