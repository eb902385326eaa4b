package transport_test

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// A handshake verified against the CA bundle in effect, whose connection
// is accepted only after SetTLS has removed that CA and rechecked the open
// connections, is refused too: the connection is verified again as it is
// recorded. Before, it was recorded unchecked and served, a removed CA's
// peer admitted until the next periodic check (CheckInterval; an hour
// here).
func TestSetTLSRefusesAHandshakeInFlight(t *testing.T) {
	ca1, ca2 := newCA(t), newCA(t)
	both := append(append([]byte(nil), ca1.CertPEM...), ca2.CertPEM...)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(name string, ca *pki.CA) *transport.QUIC {
		cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		q, err := transport.NewQUIC(&transport.QUICConfig{Name: name, CertPEM: cert, KeyPEM: key, CAPEM: both,
			Handler: newRecorder(), Logger: quiet, CheckInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
	a, c := start("a", ca2), start("c", ca1)
	c.SetPeer("a", a.Addr().String())
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	transport.SetTestBeforeTrack(func(q *transport.QUIC) {
		if q == a {
			once.Do(func() {
				close(reached)
				<-release
			})
		}
	})
	t.Cleanup(func() { transport.SetTestBeforeTrack(nil) })
	called := make(chan error, 1)
	go func() {
		_, err := c.Call(ctxT(t), "a", []byte("ping"))
		called <- err
	}()
	await.Recv(t, reached, "c's handshake to be verified") // c's handshake with a is verified against both CAs
	if err := a.SetTLS(ca2.CertPEM, nil, nil); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := await.Recv(t, called, "c's call to return"); err == nil {
		t.Fatal("a served c, whose CA it removed while c's handshake was in flight")
	}
	if _, ok := a.PeerIdentity("c"); ok {
		t.Fatal("a holds a connection with c, whose CA it removed")
	}
}
