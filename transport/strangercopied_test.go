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
// member's, which no pace holds back, and a token given back, though its
// handshake then failed: from that socket, 60 strangers' handshakes in a
// row went through a pace that refused 59 of 60 from another. A
// handshake's address is now a member's only once the handshake is
// over; one that fails on a copied certificate paces its address as a
// stranger's.
func TestACopiedMembersCertificateDoesNotMakeAnAddressKnown(t *testing.T) {
	c := newCluster(t, "a")
	a := c.nodes["a"]
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
	}
	// Another socket of the address empties its pace.
	s1 := bareTransport(t)
	await.Until(t, "a stranger's handshake refused before its certificate was seen", func() bool {
		refused, _ := dial(s1, other)
		return refused
	})
	// The socket that presented the copy is paced as well.
	await.Until(t, "a handshake from the copied certificate's socket refused from its first packet", func() bool {
		refused, _ := dial(s2, other)
		return refused
	})
}
