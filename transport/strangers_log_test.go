package transport_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// strangerCert returns a certificate of a CA of the stranger's own, with
// the common name cn: anyone can make one.
func strangerCert(t *testing.T, caKey *ecdsa.PrivateKey, ca *x509.Certificate, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{pki.RoleServer}},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A stranger, who holds no certificate of the cluster's CA, handshakes
// with certificates of a CA of its own, each of a new common name. Each
// refusal was a WARN line keyed by the name the stranger wrote, so every
// new name had a line of its own: an outside probe wrote 508 lines a
// second, and with 2,000-byte names 1.5 MB of log a second, without any
// credential. Unverified names now share one line a window, which names
// the certificate presented, cut to what a node's name may be.
func TestStrangersCannotFloodTheLogWithNames(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxT(t)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stranger CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	const handshakes = 30
	long := strings.Repeat("x", 2000)
	start := time.Now()
	for i := range handshakes {
		pair := strangerCert(t, caKey, ca, fmt.Sprintf("stranger-%d-%s", i, long))
		conn, err := quic.DialAddr(ctx, c.nodes["a"].Addr().String(), &tls.Config{
			Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN},
		}, nil)
		if err == nil {
			// TLS 1.3: the server's refusal comes after the client's
			// handshake is done.
			<-conn.Context().Done()
		}
	}
	windows := int(time.Since(start)/(10*time.Second)) + 1
	logs := c.logs.String()
	n := strings.Count(logs, "peer refused")
	if n == 0 || n > windows {
		t.Fatalf("%d handshakes of strangers with names of their own were %d log lines in %d windows of 10 s, want 1 to %d", handshakes, n, windows, windows)
	}
	if strings.Contains(logs, long[:300]) {
		t.Fatalf("a stranger's name of %d bytes was logged whole:\n%.600s", len(long), logs)
	}
	if !strings.Contains(logs, "peer=stranger-") {
		t.Fatalf("the refusal does not name the certificate presented:\n%.600s", logs)
	}
	if !strings.Contains(logs, "unknown authority") {
		t.Fatalf("the refusal does not say why:\n%.600s", logs)
	}
}
