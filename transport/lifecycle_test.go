package transport_test

import (
	"errors"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// clock is a test clock: the real time plus an offset the test moves.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(await.Deadline) // against a hang, not a measure
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pair starts a, on the test clock, checking revocations with revoked,
// and b, on the real clock; each knows the other's address.
func pair(t *testing.T, ca *pki.CA, aValid, bValid time.Duration, clk *clock, revoked func(pki.Identity) error) (a, b *transport.QUIC, logs *logBuffer, rec *recorder) {
	t.Helper()
	logs = &logBuffer{}
	rec = newRecorder()
	start := func(name string, validity time.Duration, cfg transport.QUICConfig) *transport.QUIC {
		cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), validity)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Name, cfg.CertPEM, cfg.KeyPEM, cfg.CAPEM = name, cert, key, ca.CertPEM
		q, err := transport.NewQUIC(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
	a = start("a", aValid, transport.QUICConfig{Handler: rec, Now: clk.now, Revoked: revoked, CheckInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	b = start("b", bValid, transport.QUICConfig{Handler: newRecorder(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	a.SetPeer("b", b.Addr().String())
	b.SetPeer("a", a.Addr().String())
	return a, b, logs, rec
}

// A peer whose certificate, or whose CA's, expires while it is connected
// loses its connection, and is refused when it comes back.
func TestPeerCertificateExpiryEndsConnection(t *testing.T) {
	for _, c := range []struct {
		name               string
		ca, aValid, bValid time.Duration
	}{
		{"leaf", 3 * time.Hour, 2 * time.Hour, time.Hour},
		{"CA", time.Hour, 2 * time.Hour, 2 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			ca, err := pki.NewCA("test", time.Now(), c.ca)
			if err != nil {
				t.Fatal(err)
			}
			clk := &clock{}
			a, b, logs, rec := pair(t, ca, c.aValid, c.bValid, clk, nil)
			ctx := ctxT(t)
			if _, err := b.Call(ctx, "a", []byte("ping")); err != nil {
				t.Fatal(err)
			}
			if err := b.Send(ctx, "a", []byte("m")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a message", func() bool { return rec.count("b") == 1 })
			if _, ok := a.PeerIdentity("b"); !ok {
				t.Fatal("no connection with b")
			}
			clk.advance(90 * time.Minute) // past b's NotAfter, or the CA's
			waitFor(t, "b's connection to end", func() bool { _, ok := a.PeerIdentity("b"); return !ok })
			if !strings.Contains(logs.String(), "no longer accepted") || !strings.Contains(logs.String(), "expired") {
				t.Fatalf("the end of the connection is not logged with its reason:\n%s", logs.String())
			}
			// b dials again, and is refused; a refuses to dial b.
			if _, err := b.Call(ctx, "a", []byte("ping")); err == nil {
				t.Fatal("a served b's call after b's certificate expired")
			}
			if _, err := a.Call(ctx, "b", []byte("ping")); !errors.Is(err, transport.ErrUnreachable) {
				t.Fatalf("a called b after b's certificate expired: %v", err)
			}
			if _, ok := a.PeerIdentity("b"); ok {
				t.Fatal("a connection with b again")
			}
		})
	}
}

// Recheck ends the connections of peers Revoked refuses now, and Revoked
// refuses their handshakes.
func TestRevokedPeerIsCutOff(t *testing.T) {
	ca := newCA(t)
	var revoked atomic.Bool
	a, b, logs, _ := pair(t, ca, time.Hour, time.Hour, &clock{}, func(id pki.Identity) error {
		if id.Name == "b" && revoked.Load() {
			return errors.New("revoked")
		}
		return nil
	})
	ctx := ctxT(t)
	if _, err := b.Call(ctx, "a", []byte("ping")); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	a.Recheck()
	waitFor(t, "b's connection to end", func() bool { _, ok := a.PeerIdentity("b"); return !ok })
	if _, err := b.Call(ctx, "a", []byte("ping")); err == nil {
		t.Fatal("a served a revoked peer")
	}
	if _, err := a.Call(ctx, "b", []byte("ping")); err == nil {
		t.Fatal("a called a revoked peer")
	}
	if !strings.Contains(logs.String(), "revoked") {
		t.Fatalf("the revocation is not logged:\n%s", logs.String())
	}
	// Lifted: b is served again.
	revoked.Store(false)
	waitFor(t, "b to be served again", func() bool {
		_, err := b.Call(ctx, "a", []byte("ping"))
		return err == nil
	})
}

// An endpoint does not start on a certificate that has expired, or whose
// CA has.
func TestExpiredOwnCertificateRefusesStart(t *testing.T) {
	ca := newCA(t)
	cert, key, err := ca.Issue("a", pki.RoleServer, time.Now().Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = transport.NewQUIC(&transport.QUICConfig{Name: "a", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: newRecorder()})
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "ossd cert issue") {
		t.Fatalf("started on an expired certificate: %v", err)
	}
	cert, key, err = ca.Issue("a", pki.RoleServer, time.Now(), 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = transport.NewQUIC(&transport.QUICConfig{Name: "a", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: newRecorder(),
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("started with an expired CA: %v", err)
	}
}

// SetCertificate swaps the certificate new handshakes present: once the
// old one is revoked, the peer's connection is made again with the new
// one (rotation without a restart).
func TestSetCertificate(t *testing.T) {
	ca := newCA(t)
	var revokedSerial atomic.Pointer[big.Int]
	a, b, _, _ := pair(t, ca, time.Hour, time.Hour, &clock{}, func(id pki.Identity) error {
		if s := revokedSerial.Load(); s != nil && s.Cmp(id.Serial) == 0 {
			return errors.New("revoked")
		}
		return nil
	})
	ctx := ctxT(t)
	if _, err := b.Call(ctx, "a", []byte("ping")); err != nil {
		t.Fatal(err)
	}
	old, _ := a.PeerIdentity("b")
	cert, key, err := ca.Issue("b", pki.RoleServer, time.Now(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetCertificate(cert, key); err != nil {
		t.Fatal(err)
	}
	if got := b.Certificate(); got.Serial.Cmp(old.Serial) == 0 {
		t.Fatal("the certificate was not replaced")
	}
	revokedSerial.Store(old.Serial)
	a.Recheck()
	waitFor(t, "b to be served on its new certificate", func() bool {
		if _, err := b.Call(ctx, "a", []byte("ping")); err != nil {
			return false
		}
		id, ok := a.PeerIdentity("b")
		return ok && id.Serial.Cmp(old.Serial) != 0
	})
	other, otherKey, err := ca.Issue("c", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetCertificate(other, otherKey); err == nil {
		t.Fatal("b took a certificate naming another node")
	}
	expired, expiredKey, err := ca.Issue("b", pki.RoleServer, time.Now().Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetCertificate(expired, expiredKey); err == nil {
		t.Fatal("b took an expired certificate")
	}
}
