package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// FuzzLoadCA: the CA's certificate and key are read from files; damaged
// ones are refused with an error, and a CA that loads issues certificates
// that verify against its own certificate.
func FuzzLoadCA(f *testing.F) {
	now := time.Now()
	ca, err := NewCA("test", now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	key, err := ca.KeyPEM()
	if err != nil {
		f.Fatal(err)
	}
	node, nodeKey, err := ca.Issue("n1", RoleServer, now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ca.CertPEM, key)
	f.Add(node, nodeKey) // a node's pair is not a CA
	f.Add(ca.CertPEM, nodeKey)
	f.Add(ca.CertPEM[:len(ca.CertPEM)/2], key)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), key)
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		ca, err := LoadCA(certPEM, keyPEM)
		if err != nil {
			if ca != nil {
				t.Fatal("a refused CA was returned")
			}
			return
		}
		if !ca.Cert.IsCA || ca.Key == nil || !bytes.Equal(ca.CertPEM, certPEM) {
			t.Fatalf("loaded %+v", ca)
		}
		at := ca.Cert.NotBefore.Add(time.Second)
		cert, _, err := ca.Issue("n2", RoleClient, at, time.Minute)
		if err != nil {
			return // a CA whose certificate cannot sign (its key usage, its dates)
		}
		b, _ := pem.Decode(cert)
		leaf, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("an issued certificate does not parse: %v", err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		if id, err := Verify(pool, []*x509.Certificate{leaf}, at.Add(time.Second)); err == nil && (id.Name != "n2" || id.Role != RoleClient || !id.NotAfter.Equal(leaf.NotAfter) || id.Serial.Cmp(leaf.SerialNumber) != 0) {
			t.Fatalf("an issued certificate names %+v", id)
		}
	})
}

// FuzzVerify: a peer presents a certificate during the handshake; one the
// cluster's CA did not sign is refused, and one that verifies names the
// node and role the CA signed, whatever bytes around the signed part
// were changed.
func FuzzVerify(f *testing.F) {
	now := time.Now()
	ca, err := NewCA("test", now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	other, err := NewCA("other", now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	issued := map[string]Identity{}
	for _, c := range []struct {
		ca   *CA
		name string
		role string
	}{{ca, "n1", RoleServer}, {ca, "c1", RoleClient}, {other, "n1", RoleServer}} {
		cert, _, err := c.ca.Issue(c.name, c.role, now, time.Hour)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := pem.Decode(cert)
		f.Add(b.Bytes)
		if c.ca == ca {
			leaf, _ := x509.ParseCertificate(b.Bytes)
			issued[string(leaf.RawTBSCertificate)] = Identity{Name: c.name, Role: c.role}
		}
	}
	b, _ := pem.Decode(ca.CertPEM)
	f.Add(b.Bytes)
	f.Fuzz(func(t *testing.T, der []byte) {
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		id, err := Verify(pool, []*x509.Certificate{leaf}, now.Add(time.Minute))
		if err != nil {
			return
		}
		want, ok := issued[string(leaf.RawTBSCertificate)]
		if !ok || id.Name != want.Name || id.Role != want.Role || id.Serial.Cmp(leaf.SerialNumber) != 0 {
			t.Fatalf("a certificate the CA did not issue verified as %+v", id)
		}
	})
}
