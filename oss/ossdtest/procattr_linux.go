package ossdtest

import "syscall"

// procAttr has the kernel kill an ossd process when the process that
// started it dies (PR_SET_PDEATHSIG), however it dies: a test binary
// that go test's -timeout ends, or the demo killed with SIGKILL, left its
// nodes running, holding their ports and a share of the cores, until
// someone killed them by hand. The kernel ties the signal to the thread
// that started the child, which the Go runtime ends only when a goroutine
// locked to it (runtime.LockOSThread) exits; nothing that starts nodes
// here locks one.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
