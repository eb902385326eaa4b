package transport_test

import (
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/transport"
)

// TestGossipStaysWithinAGroup: a node b of another group (2), at an
// address where a (group 1) reaches "b", hears none of a's datagrams and
// takes none of its raw streams, and a takes none of b's: memberlist's
// probes, acks and push/pulls over them stay within a cluster. A node
// of another cluster that shares a CA and a name acked a's probes of
// its namesake, which stayed live in a's view at that address. A peer
// of a's own group is heard as before. (Each side checks the other: the
// opener of a raw stream too.)
func TestGossipStaysWithinAGroup(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxT(t)
	a := c.nodes["a"]
	a.SetGroup(1)
	other := startOn(t, c, "b", nil, newRecorder())
	other.SetGroup(2)
	own := startOn(t, c, "c", nil, newRecorder())
	own.SetGroup(1)

	// The raw streams first: opening one waits for the peer's answer,
	// and the datagrams that follow on the connection are dropped. A
	// datagram that comes before the answer is taken (the group question
	// does not hold the datagram loop, groupask_test.go).
	if _, err := a.OpenRawStream(ctx, other.Addr().String(), "b"); !errors.Is(err, transport.ErrOtherGroup) {
		t.Fatalf("a's raw stream to the other group's b: %v, want ErrOtherGroup", err)
	}
	if _, err := other.OpenRawStream(ctx, a.Addr().String(), "a"); !errors.Is(err, transport.ErrOtherGroup) {
		t.Fatalf("the other group's b's raw stream to a: %v, want ErrOtherGroup", err)
	}
	if err := a.SendDatagram(ctx, other.Addr().String(), "b", []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := other.SendDatagram(ctx, a.Addr().String(), "a", []byte("ack")); err != nil {
		t.Fatal(err)
	}

	// c, of a's group, is heard; what b sent before it is not.
	if err := own.SendDatagram(ctx, a.Addr().String(), "a", []byte("own")); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-a.Datagrams():
		if d.From != "c" {
			t.Fatalf("a took a datagram of %s %q; want c's alone", d.From, d.Data)
		}
	case <-time.After(time.Minute):
		t.Fatal("a did not take c's datagram")
	}
	select {
	case d := <-other.Datagrams():
		t.Fatalf("the other group's b took a's datagram %q", d.Data)
	default:
	}
}
