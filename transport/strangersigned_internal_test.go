package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
)

// madeChain returns n certificates of a stranger's making, each named
// "x" and issued by "x", each signed by the next one's key, and a CA
// named "x" too, of another key.
func madeChain(t *testing.T, n int) (chain []*x509.Certificate, ca *x509.Certificate) {
	t.Helper()
	keys := make([]*ecdsa.PrivateKey, n+2)
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	x := pkix.Name{CommonName: "x"}
	make1 := func(i int, pub, signer *ecdsa.PrivateKey) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)), Subject: x,
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, &x509.Certificate{Subject: x}, &pub.PublicKey, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := range n {
		chain = append(chain, make1(i, keys[i], keys[i+1]))
	}
	return chain, make1(n, keys[n+1], keys[n+1])
}

// A stranger presenting 40 certificates of its making, each named the
// next one's issuer (and the name of a CA of the cluster), had the node
// check about n²/2 signatures before refusing the handshake. The
// signatures checked are counted, not timed.
func TestSignedByClusterChecksFewSignaturesOfAMadeChain(t *testing.T) {
	chain, ca := madeChain(t, 40)
	signed, checks := signedBy([]*x509.Certificate{ca}, chain)
	if signed {
		t.Fatal("a chain of the stranger's making signed by the cluster")
	}
	if checks > signatureChecks || checks > 8 {
		t.Fatalf("%d signatures checked for a made chain of 40, want 8 at most", checks)
	}
}

// A certificate the cluster's CA signed is still found so: alone, and
// with a certificate of another's making sent between it and the CA.
func TestSignedByClusterFindsTheCluster(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.Issue("b", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parse := func(b []byte) *x509.Certificate {
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	leaf, caCert := parse(certPEM), parse(ca.CertPEM)
	if signed, checks := signedBy([]*x509.Certificate{caCert}, []*x509.Certificate{leaf}); !signed || checks != 1 {
		t.Fatalf("a leaf of the cluster's CA: signed %v after %d checks, want true after 1", signed, checks)
	}
	made, _ := madeChain(t, 3)
	if signed, _ := signedBy([]*x509.Certificate{caCert}, []*x509.Certificate{leaf, made[0], caCert}); !signed {
		t.Fatal("a leaf of the cluster's CA, sent with a certificate of another's: not signed by the cluster")
	}
}
