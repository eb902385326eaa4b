package pki

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerify(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("cluster", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("other", now, time.Hour)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	issue := func(ca *CA, name, role string, from time.Time, d time.Duration) []*x509.Certificate {
		c, _, err := ca.Issue(name, role, from, d)
		if err != nil {
			t.Fatal(err)
		}
		return []*x509.Certificate{parse(t, c)}
	}
	cases := []struct {
		name  string
		chain []*x509.Certificate
		want  string // substring of the error; "" for success
	}{
		{"server", issue(ca, "n1", RoleServer, now, time.Hour), ""},
		{"client", issue(ca, "c1", RoleClient, now, time.Hour), ""},
		{"other CA", issue(other, "n1", RoleServer, now, time.Hour), "unknown authority"},
		{"expired", issue(ca, "n1", RoleServer, now.Add(-3*time.Hour), time.Hour), "expired"},
		{"none", nil, "no certificate"},
		{"CA as a node", []*x509.Certificate{ca.Cert}, "does not name"},
	}
	for _, c := range cases {
		id, err := Verify(pool, c.chain, now)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		case c.want == "" && id.Name != c.chain[0].Subject.CommonName:
			t.Errorf("%s: identity %+v", c.name, id)
		}
	}
	if _, _, err := ca.Issue("n", "root", now, time.Hour); err == nil {
		t.Error("issued a certificate with an unknown role")
	}
	keyPEM, _ := ca.KeyPEM()
	again, err := LoadCA(ca.CertPEM, keyPEM)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("LoadCA: %v", err)
	}
	if _, err := LoadCA(ca.CertPEM, []byte("junk")); err == nil {
		t.Fatal("LoadCA accepted a junk key")
	}
}
