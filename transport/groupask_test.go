package transport_test

import (
	"errors"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// The loop that reads a connection's datagrams does not wait for the
// peer's answer to the group question: a datagram that comes while the
// question is in flight (here held there until the test lets it go, as
// a peer that does not answer pings holds it) is taken, as from a peer
// of no group. The loop waited up to pingTimeout (2 s) on the first
// datagram of every connection, again on each while the peer did not
// answer: memberlist's acks waited behind it. Once the peer has
// answered with another group, its datagrams are dropped as before,
// while those of a's own group are taken.
func TestGroupQuestionDoesNotHoldDatagrams(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxT(t)
	a := c.nodes["a"]
	a.SetGroup(1)
	other := startOn(t, c, "b", nil, newRecorder())
	other.SetGroup(2)
	own := startOn(t, c, "c", nil, newRecorder())
	own.SetGroup(1)

	release := make(chan struct{})
	transport.SetTestAskGroup(func(q *transport.QUIC) {
		if q == a {
			<-release
		}
	})
	t.Cleanup(func() { transport.SetTestAskGroup(nil) })
	var released bool
	defer func() {
		if !released {
			close(release) // the question's goroutine ends before the nodes close
		}
	}()

	if err := other.SendDatagram(ctx, a.Addr().String(), "a", []byte("before the answer")); err != nil {
		t.Fatal(err)
	}
	if d := await.Recv(t, a.Datagrams(), "b's datagram while a's question is in flight"); d.From != "b" {
		t.Fatalf("a took %q of %s; want b's", d.Data, d.From)
	}

	released = true
	close(release)
	// The question answered: a opens no raw stream to b, on the
	// connection b's datagrams come on.
	if _, err := a.OpenRawStream(ctx, other.Addr().String(), "b"); !errors.Is(err, transport.ErrOtherGroup) {
		t.Fatalf("a's raw stream to the other group's b: %v, want ErrOtherGroup", err)
	}
	dropped := a.Stats().OtherGroup
	if err := other.SendDatagram(ctx, a.Addr().String(), "a", []byte("after the answer")); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "a to drop b's datagram after the answer", func() bool { return a.Stats().OtherGroup > dropped })
	if err := own.SendDatagram(ctx, a.Addr().String(), "a", []byte("own")); err != nil {
		t.Fatal(err)
	}
	if d := await.Recv(t, a.Datagrams(), "c's datagram"); d.From != "c" {
		t.Fatalf("a took %q of %s once b had answered with another group; want c's", d.Data, d.From)
	}
}
