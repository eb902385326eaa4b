package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// A stranger's handshake (a certificate of a CA of its own) costs the
// node a key exchange and a signature before the node sees the
// certificate, and each was refused only then: about 400 a second from
// one prober cut an admin client's puts through the node to a fifth
// ("Found by probing the network"). The handshakes of an address a
// stranger handshook from are now paced, and those past the pace are
// refused from their first packet, before any cryptography. A node of
// the cluster at another address is not held back.
// strangerBurst is the handshakes a stranger's address is let make
// before its pace (strangers.go).
const strangerBurst = 16

func TestStrangersHandshakesArePacedPerAddress(t *testing.T) {
	c := newCluster(t, "a")
	a := c.nodes["a"]
	ua, err := net.ResolveUDPAddr("udp", a.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{strangerPair(t, "b")}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
	tr := bareTransport(t)
	// Handshakes in a row until one is refused from its first packet:
	// however slow the machine, the pace (16, then 4 a second) is
	// outrun by a dialler that waits for nothing but each refusal.
	handshakes, refusedFirst := 0, 0
	await.Until(t, "a stranger's handshake refused before its certificate was seen", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
		defer cancel()
		handshakes++
		conn, err := tr.Dial(ctx, ua, conf, nil)
		if err == nil {
			<-conn.Context().Done() // refused once the node saw the certificate
		} else if te := (*quic.TransportError)(nil); errors.As(err, &te) && te.ErrorCode == quic.ConnectionRefused {
			refusedFirst++
		}
		return refusedFirst > 0
	})
	if handshakes <= strangerBurst {
		t.Fatalf("a handshake refused before the certificate was seen after %d in a row, within the burst of %d", handshakes, strangerBurst)
	}
	// A ClientHello may take two Initial packets, each refused.
	if got := a.Stats().StrangersPaced; got < uint64(refusedFirst) {
		t.Fatalf("StrangersPaced is %d, %d handshakes were refused from their first packet", got, refusedFirst)
	}
	// A server of the cluster at another loopback address calls a.
	b := c.start(t, "b", "127.0.0.2:0", newRecorder())
	b.SetPeer("a", a.Addr().String())
	if _, err := b.Call(ctxT(t), "a", []byte("x")); err != nil {
		t.Fatalf("a node at another address, after a stranger's flood: %v", err)
	}
}
