package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// A dialler that its peer refuses as one connection too many (the peer
// holds MaxConnsPerPeer of its name already: application error 0x12)
// waits before it dials again, longer with each refusal in a row. It
// dialled again at once: every call, and every message its send loops
// took, was a handshake the peer made and refused, for as long as the
// peer held the other connections. The dials are counted where the peer
// accepts them, over a run of calls that are all refused.
func TestRefusedDiallerBacksOff(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	a, b := c.nodes["a"], c.nodes["b"]
	holdConns(ctx, t, c, "b", a.Addr().(*net.UDPAddr))

	var accepts atomic.Int64
	transport.SetTestBeforeTrack(func(q *transport.QUIC) {
		if q == a {
			accepts.Add(1)
		}
	})
	defer transport.SetTestBeforeTrack(nil)
	const calls = 100
	var last, heldBack error // heldBack: a held-back call's error that lacks the reason
	for range calls {
		_, err := b.Call(ctx, "a", []byte("x"))
		if err == nil {
			t.Fatal("a call of b was served while a holds MaxConnsPerPeer connections of b's name")
		}
		if strings.Contains(err.Error(), "redial in") && !strings.Contains(err.Error(), "connections") {
			heldBack = err
		}
		last = err
	}
	if n := accepts.Load(); n > calls/10 {
		t.Fatalf("%d calls refused as one connection too many made %d dials; want a backoff between them", calls, n)
	}
	// The last call may have found the backoff over on a loaded machine
	// and dialled, to be refused again, or gone on the refused connection
	// before it closed: it names the refusal either way.
	if !errors.Is(last, transport.ErrUnreachable) || !strings.Contains(last.Error(), "connections") {
		t.Fatalf("the last refused call says %q; want the peer's reason", last)
	}
	// A call held back says when it dials again, and why: the last
	// dial's refusal. (Whether any call is held back is the machine's:
	// the calls may all go while the refused connection is still
	// closing.)
	if heldBack != nil {
		t.Fatalf("a call held back after a refusal says %q; want the peer's reason beside when it dials again", heldBack)
	}
}

// holdConns opens MaxConnsPerPeer connections to addr with a certificate
// of name from a socket of its own, each served (a call answered), and
// closes them when the test ends.
func holdConns(ctx context.Context, t *testing.T, c *cluster, name string, addr *net.UDPAddr) {
	t.Helper()
	pair, tr := rawEndpoint(t, c, name, pki.RoleServer)
	tc := &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
	for range transport.MaxConnsPerPeer {
		conn, err := tr.Dial(ctx, addr, tc, &quic.Config{KeepAlivePeriod: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.CloseWithError(0, "") })
		if resp, err := rawCall(ctx, t, conn, name, []byte("x")); err != nil || string(resp) != name+":x" {
			t.Fatalf("a connection of %s is not served: %q %v", name, resp, err)
		}
	}
}
