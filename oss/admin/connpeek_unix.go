//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package admin

import (
	"net"
	"syscall"
)

// pending reports whether bytes wait, unread, in c's socket: it peeks
// without blocking and without the read lock, which a reader of c may
// hold.
func pending(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	return n > 0
}
