package transport_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
)

// SetTLS replaces the CA bundle without a restart: once a CA is removed
// from it, the open connection of a peer certified by that CA is closed
// and its new handshakes are refused, while a peer of the CA kept goes on;
// a bundle that is empty, not PEM, damaged, holds a certificate that is
// not a CA's, or does not certify the endpoint's own certificate is
// refused and changes nothing; a bundle and a certificate of a new CA are
// taken together. The CA bundle used to be read once, at the start.
func TestSetTLSRemovesACA(t *testing.T) {
	ca1, ca2 := newCA(t), newCA(t)
	both := append(append([]byte(nil), ca1.CertPEM...), ca2.CertPEM...)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(name string, ca *pki.CA) *transport.QUIC {
		cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		q, err := transport.NewQUIC(&transport.QUICConfig{Name: name, CertPEM: cert, KeyPEM: key, CAPEM: both,
			Handler: newRecorder(), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
	a, b, c := start("a", ca1), start("b", ca1), start("c", ca2)
	for _, q := range []*transport.QUIC{b, c} {
		q.SetPeer("a", a.Addr().String())
	}
	ctx := ctxT(t)
	for _, q := range []*transport.QUIC{b, c} {
		if _, err := q.Call(ctx, "a", []byte("ping")); err != nil {
			t.Fatalf("%s, trusted by both CAs: %v", q.Name(), err)
		}
	}
	if _, ok := a.PeerIdentity("c"); !ok {
		t.Fatal("a has no connection with c")
	}
	notCA, _, err := ca2.Issue("d", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for what, bad := range map[string][]byte{
		"empty":                       {},
		"not PEM":                     []byte("not a certificate"),
		"damaged":                     append(append([]byte(nil), ca1.CertPEM...), ca2.CertPEM[:len(ca2.CertPEM)/2]...),
		"a node's certificate":        append(append([]byte(nil), ca1.CertPEM...), notCA...),
		"not certifying a's own cert": ca2.CertPEM,
	} {
		if err := a.SetTLS(bad, nil, nil); err == nil {
			t.Errorf("a took a CA bundle that is %s", what)
		}
	}
	if _, ok := a.PeerIdentity("c"); !ok {
		t.Fatal("a refused bundle closed the connection with c")
	}
	if err := a.SetTLS(ca1.CertPEM, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to close its connection with c, of the removed CA", func() bool {
		_, ok := a.PeerIdentity("c")
		return !ok
	})
	if _, err := c.Call(ctx, "a", []byte("ping")); err == nil {
		t.Fatal("a accepted c, of the removed CA, again")
	}
	if _, err := b.Call(ctx, "a", []byte("ping")); err != nil {
		t.Fatalf("b, of the CA kept: %v", err)
	}
	// The new CA alone, with a certificate of it, in one step.
	cert, key, err := ca2.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetTLS(ca2.CertPEM, cert, key); err != nil {
		t.Fatalf("a bundle of the new CA with a certificate of it: %v", err)
	}
	waitFor(t, "c, of the CA now trusted, to be accepted", func() bool {
		_, err := c.Call(ctx, "a", []byte("ping"))
		return err == nil
	})
}
