package transport

import (
	"crypto/tls"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// Two SetTLS calls at once, one with a new CA bundle and one with a new
// certificate, both take effect: the endpoint ends with the new bundle
// and the new certificate. Each swapped in the bundle and the certificate
// it had read before its checks, so the later swap undid the earlier one
// while both returned nil (here the certificate, reloaded while the
// bundle's checks ran, was lost).
func TestSetTLSAtOnceLosesNeither(t *testing.T) {
	newCA := func() *pki.CA {
		ca, err := pki.NewCA("test", time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	issue := func(ca *pki.CA) (cert, key []byte) {
		cert, key, err := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	ca1, ca2, ca3 := newCA(), newCA(), newCA()
	cert, key := issue(ca1)
	var hold atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	q, err := NewQUIC(&QUICConfig{Name: "a", Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key,
		CAPEM: append(append([]byte(nil), ca1.CertPEM...), ca2.CertPEM...), CheckInterval: time.Hour,
		Handler: discardHandler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time {
			if hold.CompareAndSwap(true, false) {
				close(entered) // the bundle's SetTLS, between its read and its swap
				<-release
			}
			return time.Now()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	bundle := append(append([]byte(nil), ca1.CertPEM...), ca3.CertPEM...) // ca2 out, ca3 in
	hold.Store(true)
	done := make(chan error, 1)
	go func() { done <- q.SetTLS(bundle, nil, nil) }()
	await.Recv(t, entered, "the bundle's SetTLS to be held")
	cert2, key2 := issue(ca1)
	if err := q.SetTLS(nil, cert2, key2); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := await.Recv(t, done, "the bundle's SetTLS to return"); err != nil {
		t.Fatal(err)
	}
	want, _, err := pki.ParseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	own := q.own.Load()
	if !own.pool.Equal(want) {
		t.Error("the CA bundle in effect is not the new one")
	}
	pair, err := tls.X509KeyPair(cert2, key2)
	if err != nil {
		t.Fatal(err)
	}
	if string(own.cert.Certificate[0]) != string(pair.Certificate[0]) {
		t.Errorf("the certificate in effect is serial %x, not the one reloaded meanwhile", own.cert.Leaf.SerialNumber)
	}
}
