package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

func TestIssueCert(t *testing.T) {
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []pki.Role{pki.RoleServer, pki.RoleClient} {
		certPEM, keyPEM, err := pki.IssueCert(caCert, caKey, "n1", role, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(certPEM)
		if b == nil || len(keyPEM) == 0 {
			t.Fatalf("%s: no PEM", role)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject.CommonName != "n1" || len(c.Subject.OrganizationalUnit) != 1 || c.Subject.OrganizationalUnit[0] != string(role) {
			t.Fatalf("certificate names %v", c.Subject)
		}
	}
	if _, _, err := pki.IssueCert(caCert, caKey, "n1", pki.Role("root"), time.Hour); err == nil {
		t.Fatal("a certificate for an unknown role")
	}
	if _, _, err := pki.IssueCert([]byte("junk"), []byte("junk"), "n1", pki.RoleServer, time.Hour); err == nil {
		t.Fatal("a certificate from a CA that does not load")
	}
}

func TestInspect(t *testing.T) {
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := pki.IssueCert(caCert, caKey, "n1", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	info, err := pki.Inspect(certPEM)
	if err != nil || info.Name != "n1" || info.Role != pki.RoleClient || info.IsCA || info.Serial == nil ||
		info.NotAfter.Sub(info.NotBefore) != time.Hour+pki.Backdate {
		t.Fatalf("Inspect: %+v, %v", info, err)
	}
	ca, err := pki.Inspect(caCert)
	if err != nil || !ca.IsCA || ca.Role != "" {
		t.Fatalf("Inspect of the CA: %+v, %v", ca, err)
	}
	if _, err := pki.Inspect([]byte("junk")); err == nil {
		t.Fatal("Inspect read junk")
	}
	if _, _, err := pki.IssueCert(caCert, caKey, "../n1", pki.RoleServer, time.Hour); err == nil {
		t.Fatal("a certificate for ../n1")
	}
	if err := pki.CheckName("n1.example"); err != nil {
		t.Fatal(err)
	}
}
