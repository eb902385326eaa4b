//go:build !linux

package ossdtest

import "syscall"

// procAttr is nil where the kernel cannot kill a child with its parent
// (see the Linux version): ossd processes outlive a starter that dies
// without closing its Cluster.
func procAttr() *syscall.SysProcAttr { return nil }
