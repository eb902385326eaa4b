package transport_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// rawEndpoint returns a certificate of name in role from c's CA and a
// bare QUIC transport on a loopback socket of its own, closed when the
// test ends: a peer that speaks QUIC to the nodes without this
// package's endpoint.
func rawEndpoint(t *testing.T, c *cluster, name, role string) (tls.Certificate, *quic.Transport) {
	t.Helper()
	cert, key, err := c.ca.Issue(name, role, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: pc}
	t.Cleanup(func() { tr.Close(); pc.Close() })
	return pair, tr
}
