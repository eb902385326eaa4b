package transport_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// crypto/tls verifies a client's certificate before the client proves
// it holds the certificate's key, and a member's certificate is anyone's
// (a node sends its own to whoever dials it). A stranger presenting a
// copy of one with a key of its own had its address noted as a
// member's, which no pace holds back, though its handshake then failed:
// from that socket, strangers' handshakes went on through a pace that
// refused those of another socket of the address. A handshake's address
// is now a member's only once the handshake is over, and one that fails
// on a copied certificate paces its address as a stranger's: the
// copier's socket, presenting the copy only, is refused from its first
// packet once it emptied the pace (frozen: a loaded machine's slow
// handshakes do not let it fill up).
func TestACopiedMembersCertificateDoesNotMakeAnAddressKnown(t *testing.T) {
	c := newCluster(t, "a")
	a := c.nodes["a"]
	a.FreezeStrangerPaces()
	ua, err := net.ResolveUDPAddr("udp", a.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := c.ca.Issue("b", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	other := strangerPair(t, "b")
	copied := tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: other.PrivateKey}
	// dial reports whether the node refused the handshake from its first
	// packet, before any certificate.
	dial := func(tr *quic.Transport, cert tls.Certificate) (refusedFirst bool, err error) {
		conf := &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
		ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
		defer cancel()
		conn, err := tr.Dial(ctx, ua, conf, nil)
		if err == nil {
			<-conn.Context().Done() // refused once the node saw the certificate or the proof
			return false, context.Cause(conn.Context())
		}
		te := (*quic.TransportError)(nil)
		return errors.As(err, &te) && te.ErrorCode == quic.ConnectionRefused, err
	}
	s2 := bareTransport(t)
	if refused, err := dial(s2, copied); refused {
		t.Fatalf("a first handshake from a fresh address refused from its first packet: %v", err)
	} else if te := (*quic.TransportError)(nil); !errors.As(err, &te) || !te.ErrorCode.IsCryptoError() {
		t.Fatalf("a handshake with a copied certificate ended on %v, want a TLS alert", err)
	}
	await.Until(t, "a handshake with the copied certificate refused from its first packet", func() bool {
		refused, _ := dial(s2, copied)
		return refused
	})
}

// A member that restarts at a new address (its data elsewhere, the
// same name and CA) is new to the others: its first handshake from there
// takes a token of its IP address's pace like a stranger's, and becomes
// a member's only once the handshake is over, which gives the token
// back. Strangers flooding from that IP address, each from a socket of
// its own, leave it the last token (their ports need two): its first
// call gets through, and so does the call of a node told its new
// address. A flood that takes a new port for each dial competes with it
// for that token; not tested.
func TestAMemberRestartedAtANewAddressTakesTheTokenStrangersSocketsLeave(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes["a"], c.nodes["b"]
	a.FreezeStrangerPaces()
	if _, err := b.Call(ctxT(t), "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	old := b.Addr().String()
	strangerFlood(t, a.Addr().String(), 2)
	awaitPaced(t, a)
	b.Close()
	for i := range 3 {
		b = c.start(t, "b", "127.0.0.1:0", newRecorder())
		if b.Addr().String() == old {
			t.Fatalf("restarted at its former address %s", old)
		}
		assertPaced(t, a, b.Addr().String())
		b.SetPeer("a", a.Addr().String())
		if _, err := b.Call(ctxT(t), "a", []byte("x")); err != nil {
			t.Fatalf("b restarted at a new address (%d), its first call: %v (StrangersPaced %d)", i, err, a.Stats().StrangersPaced)
		}
		a.SetPeer("b", b.Addr().String()) // as gossip tells the members
		if _, err := a.Call(ctxT(t), "b", []byte("x")); err != nil {
			t.Fatalf("a's call to b at its new address (%d): %v", i, err)
		}
		old = b.Addr().String()
		b.Close()
	}
}
