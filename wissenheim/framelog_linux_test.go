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
	// Two goroutines, each locked to a thread of its own: at most one of
	// them is the main thread.
	tids, release := make(chan int), make(chan struct{})
	defer close(release)
	for range 2 {
		go func() {
			runtime.LockOSThread() // the thread ends with the goroutine
			tids <- syscall.Gettid()
			<-release
		}()
	}
	tid := <-tids
	if other := <-tids; tid == os.Getpid() {
		tid = other
	}
	// The other tests' threads get it too: a value of 1, set back at the
	// end where the process may (root may lower it again).
	t.Cleanup(func() { niceOthers(0) })
	if niceOthers(1) == 0 {
		t.Fatal("no thread changed")
	}
	if p, _ := syscall.Getpriority(syscall.PRIO_PROCESS, tid); 20-p != 1 {
		t.Errorf("this thread's nice value is %d, want 1", 20-p)
	}
	if p, _ := syscall.Getpriority(syscall.PRIO_PROCESS, os.Getpid()); p != before {
		t.Errorf("the main thread's priority moved from %d to %d", before, p)
	}
}
