package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
)

// A refused handshake says which side refused: ErrPeerRefused when the
// peer does not accept this endpoint's certificate, plain ErrRefused when
// this endpoint does not accept the peer's. A node that fails to join
// names the member that refused its certificate only in the first case;
// before, the refusal a dial reported after it returned was told apart
// from one reported during the dial only by its text.
func TestRefusalSaysWhichSideRefused(t *testing.T) {
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
	// b trusts ca1 only; a's certificate is ca2's, and a trusts both.
	b := endpoint("b", ca1, ca1.CertPEM)
	a := endpoint("a", ca2, append(append([]byte(nil), ca1.CertPEM...), ca2.CertPEM...))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// a reaches b: b refuses a's certificate, during the dial or just
	// after it (a Reach may find the connection before b's alert).
	var err error
	for err == nil && ctx.Err() == nil {
		if err = a.Reach(ctx, b.Addr().String()); err == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !errors.Is(err, ErrPeerRefused) || !errors.Is(err, ErrRefused) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("b refused a's certificate; a's Reach says %v, want ErrPeerRefused, ErrRefused and ErrUnreachable", err)
	}

	// b reaches a: b itself refuses a's certificate.
	err = b.Reach(ctx, a.Addr().String())
	if !errors.Is(err, ErrRefused) || errors.Is(err, ErrPeerRefused) {
		t.Errorf("b refused a's certificate; b's Reach says %v, want ErrRefused and not ErrPeerRefused", err)
	}
}
