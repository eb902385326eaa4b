package transport_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/objectsharing/oss/transport"
)

// A dial that fails says once that the peer is unreachable, and names its
// address once, without a doubled space: it read "transport: peer
// unreachable: A: dial failed: transport: peer unreachable:  A: ...", and
// the redial that followed, "... redial in 20ms; the last dial:
// transport: peer unreachable:  A: ...".
func TestFailedDialSaysUnreachableOnce(t *testing.T) {
	c := newCluster(t, "a")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nothing answers there
	ctx := ctxT(t)
	for i, what := range []string{"the dial", "the redial"} {
		_, err := c.nodes["a"].OpenRawStream(ctx, addr, "")
		if i == 1 && !strings.Contains(err.Error(), "redial in") {
			continue // the backoff had passed: a dial again
		}
		msg := err.Error()
		t.Logf("%s: %v", what, msg)
		if !errors.Is(err, transport.ErrUnreachable) || strings.Count(msg, transport.ErrUnreachable.Error()) != 1 ||
			strings.Count(msg, addr) != 1 || strings.Contains(msg, "  ") {
			t.Errorf("%s of an address nothing answers at: %q; want ErrUnreachable said once, the address named once", what, msg)
		}
	}
}
