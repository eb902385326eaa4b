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

func TestCheckName(t *testing.T) {
	for _, name := range []string{"n1", "node-1", "n1.dc1.example.com", "a_b", "N1"} {
		if err := CheckName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a..b", ".a", "a.", "-a", "a b", "a\x00", "é", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "a"} {
		if err := CheckName(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
	ca, err := NewCA("cluster", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.Issue("../x", RoleServer, time.Now(), time.Hour); err == nil {
		t.Error("issued a certificate for ../x")
	}
	if _, _, err := ca.Issue("n1", RoleServer, time.Now(), -time.Hour); err == nil {
		t.Error("issued an expired certificate")
	}
	if _, err := NewCA("c", time.Now(), 0); err == nil {
		t.Error("made a CA valid for no time")
	}
}

// Identity.Expires is the earliest end of the chain: the CA's when it
// ends before the node's certificate.
func TestVerifyExpires(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("cluster", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, c := range []struct {
		validity time.Duration
		want     time.Time
	}{{time.Minute, now.Add(time.Minute)}, {2 * time.Hour, ca.Cert.NotAfter}} {
		cert, _, err := ca.Issue("n1", RoleServer, now, c.validity)
		if err != nil {
			t.Fatal(err)
		}
		leaf := parse(t, cert)
		id, err := Verify(pool, []*x509.Certificate{leaf}, now)
		if err != nil {
			t.Fatal(err)
		}
		if !id.Expires.Equal(c.want.Truncate(time.Second)) || !id.NotBefore.Equal(leaf.NotBefore) || !id.NotAfter.Equal(leaf.NotAfter) {
			t.Errorf("validity %v: identity %+v, want Expires %v", c.validity, id, c.want)
		}
	}
}
