package admin

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// ClosedAddr returns a loopback address where nothing listens, and keeps
// it so until the test ends: a TCP socket bound to the port and never
// listening holds it, and a connection to it is refused. A port taken
// from a listener that is then closed lies in the kernel's ephemeral
// range, where the next socket bound at ":0" (a server the same test
// starts next, another test's, another package's) may be given it, and
// the address then answers.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// The address ClosedAddr returns refuses connections, and no listener
// can take it while the test runs; a closed listener's address could be
// taken at once.
func TestClosedAddrIsRefusedAndHeld(t *testing.T) {
	addr := ClosedAddr(t)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("a connection to %s was accepted", addr)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("a listener took %s, which ClosedAddr returned", addr)
	}
}
