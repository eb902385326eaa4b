package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// A node's certificate and key replaced by another node's pair, or
// renewed into one that has expired, stop "ossd run" with an error that
// names the certificate file. Both are a valid pair of the cluster's CA,
// so the file checks passed, and the node refused to start with
// "transport: certificate names "n2", not this node "n1"" or "this node's
// own certificate does not verify against the CA bundle", naming no file.
func TestRunNamesAnotherNodesOrAnExpiredCertificate(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"ca", "init", "--dir", dir},
		{"cert", "issue", "--dir", dir, "--name", "n1"},
		{"cert", "issue", "--dir", dir, "--name", "n2"},
	} {
		if err := dispatch(args); err != nil {
			t.Fatal(err)
		}
	}
	crt := filepath.Join(dir, "n1.crt")
	for _, f := range []string{"n2.crt", "n2.key"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.Replace(f, "n2", "n1", 1)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := &runFlags{name: "n1", certs: dir}
	_, err := f.readTLS()
	if err == nil || !strings.Contains(err.Error(), crt) || !strings.Contains(err.Error(), `names "n2"`) {
		t.Fatalf("ossd run with n2's certificate and key as n1's: want an error naming %s and n2; got %v", crt, err)
	}
	tlsc := shortLivedCert(t, dir, "n1")
	pair, err := tls.X509KeyPair(tlsc.CertPEM, tlsc.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(leaf.NotAfter) + 10*time.Millisecond) // until it has expired
	_, err = (&runFlags{name: "n1", certs: dir}).readTLS()
	if err == nil || !strings.Contains(err.Error(), crt) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("ossd run once n1's certificate expired: want an error naming %s and saying it expired; got %v", crt, err)
	}
}

// shortLivedCert issues name a certificate valid for a second, or for
// longer if it expired before it was read back, and returns the
// configuration readTLS reads while it is valid. A certificate's
// NotAfter has whole seconds, so "--validity 1s" gives one valid for
// 0 to 1 s: 2 runs in 40 at load 20 read it after it had expired.
func shortLivedCert(t *testing.T, dir, name string) *oss.TLSConfig {
	t.Helper()
	for validity := time.Second; ; validity *= 2 {
		if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name, "--validity", validity.String(), "--force"}); err != nil {
			t.Fatal(err)
		}
		tlsc, err := (&runFlags{name: name, certs: dir}).readTLS()
		if err == nil {
			return tlsc
		}
		if !strings.Contains(err.Error(), "expired") || validity >= 4*time.Minute {
			t.Fatalf("a certificate valid for %v more: %v", validity, err)
		}
		t.Logf("a certificate valid for up to %v expired before it was read: %v", validity, err)
	}
}
