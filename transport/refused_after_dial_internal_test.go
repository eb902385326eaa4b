package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
)

// A peer that refuses this endpoint's certificate after the dial has
// returned (under TLS 1.3 the client finishes its handshake first) ends
// the connection with a TLS alert. A caller that was waiting on that dial
// and finds the connection already ended is told it was refused
// (ErrRefused), not only that the dial failed: on a loaded machine the
// alert arrived between the dial and the caller's look, and a node whose
// certificate was revoked took the refusal for a member not answering yet
// and waited to join for ever.
func TestRefusalAfterTheDialIsReportedAsRefused(t *testing.T) {
	a, b := refusingPair(t)
	addr := b.Addr().String()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A dial that returned a connection, then the peer's alert.
	c, err := a.tr.Dial(ctx, ua, a.tlsConfig(""), a.qconf)
	for err != nil && refusedByPeer(err) != nil && ctx.Err() == nil {
		c, err = a.tr.Dial(ctx, ua, a.tlsConfig(""), a.qconf) // the alert came first this time
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	<-c.Context().Done()
	if refusedByPeer(context.Cause(c.Context())) == nil {
		t.Fatalf("b ended the connection with %v, not a refusal", context.Cause(c.Context()))
	}
	// The background dial's outcome, as a waiting caller finds it.
	dialed := make(chan struct{})
	close(dialed)
	p, err := a.addrPeer(addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.conn, p.dialing = c, dialed
	p.mu.Unlock()
	_, err = a.connAt(ctx, addr, "")
	if !errors.Is(err, ErrRefused) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("a connection the peer refused after the dial: %v; want ErrRefused and ErrUnreachable", err)
	}
}

// refusingPair returns two endpoints of which b refuses a's certificate
// and a accepts b's: b trusts one CA only, a's certificate is another's,
// and a trusts both.
func refusingPair(t *testing.T) (a, b *QUIC) {
	t.Helper()
	newCA := func() *pki.CA {
		ca, err := pki.NewCA("test", time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	ca1, ca2 := newCA(), newCA()
	endpoint := func(name string, ca *pki.CA, bundle []byte) *QUIC {
		cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		q, err := NewQUIC(&QUICConfig{Name: name, Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key, CAPEM: bundle,
			Handler: discardHandler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
	b = endpoint("b", ca1, ca1.CertPEM)
	a = endpoint("a", ca2, append(append([]byte(nil), ca1.CertPEM...), ca2.CertPEM...))
	return a, b
}
