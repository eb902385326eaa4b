package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// "ossd cert revoke" of a name or a serial the CA never issued (a typo)
// is refused with the names (or serials) its register holds, and
// nothing is recorded: it used to record the revocation of the typo and
// succeed, while the node meant stayed trusted. A certificate revoked
// already is reported so, and nothing is recorded again.
func TestCertRevokeOfNoIssuedCertificateIsRefused(t *testing.T) {
	dir := caDir(t)
	for _, name := range []string{"n1", "n2"} {
		if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name}); err != nil {
			t.Fatal(err)
		}
	}
	other := caDir(t) // another CA, whose n1 this one never issued
	if err := dispatch([]string{"cert", "issue", "--dir", other, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	n, flags := insecureAdmin(t)
	revoke := func(args ...string) (string, error) {
		return captureStdout(t, func() error {
			return dispatch(append(append([]string{"cert", "revoke"}, args...), flags...))
		})
	}
	refused := func(what string, want []string, args ...string) {
		t.Helper()
		_, err := revoke(args...)
		if err == nil {
			t.Fatalf("%s: revoked, want a refusal", what)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant it to say %q", what, err, w)
			}
		}
		if rs := n.Revocations(); len(rs) != 0 {
			t.Fatalf("%s: refused, yet recorded %+v", what, rs)
		}
	}
	refused("a name never issued", []string{`never issued a certificate to "n3"`, "n1, n2"}, "n3", "--ca-dir", dir)
	refused("a serial never issued", []string{`no certificate of "n1" with serial abc123`, serialOf(t, dir, "n1")}, "n1", "--serial", "abc123", "--ca-dir", dir)
	refused("another CA's certificate", []string{`no certificate of "n1"`}, "--cert", filepath.Join(other, "n1.crt"), "--ca-dir", dir)
	refused("no register", []string{"--ca-dir", "--unlisted"}, "n1", "--ca-dir", t.TempDir())
	if _, err := os.Stat(filepath.Join(dir, "n3.crt")); err == nil {
		t.Fatal("a refused revocation wrote a certificate")
	}

	// Revoking again is reported and records nothing new.
	if _, err := revoke("n1", "--serial", serialOf(t, dir, "n1"), "--ca-dir", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := revoke("n2", "--ca-dir", dir); err != nil {
		t.Fatal(err)
	}
	before := n.Revocations()
	for _, args := range [][]string{
		{"n1", "--serial", serialOf(t, dir, "n1"), "--ca-dir", dir},
		{"--cert", filepath.Join(dir, "n2.crt"), "--ca-dir", dir}, // covered by the revocation by name
	} {
		out, err := revoke(args...)
		if err != nil || !strings.Contains(out, "revoked already") {
			t.Errorf("revoke %v again: %q, %v; want it reported as revoked already", args, out, err)
		}
	}
	if after := n.Revocations(); !slices.EqualFunc(before, after, func(a, b oss.Revocation) bool {
		return a.Name == b.Name && a.At.Equal(b.At) && (a.Serial == nil) == (b.Serial == nil)
	}) {
		t.Fatalf("revoking again recorded anew: %+v, then %+v", before, after)
	}

	// --unlisted revokes a name the register does not hold.
	if _, err := revoke("n9", "--unlisted"); err != nil {
		t.Fatal(err)
	}
	if rs := n.Revocations(); len(rs) != 3 || !slices.ContainsFunc(rs, func(r oss.Revocation) bool { return r.Name == "n9" }) {
		t.Fatalf("revocations after --unlisted n9: %+v", rs)
	}
}

// The register of a CA made before there was one begins at its next
// "cert issue" and says so: a name it does not list may be one issued
// before, and the refusal says how to revoke it (--unlisted).
func TestCertRevokeOfAPartialRegisterSaysSo(t *testing.T) {
	dir := caDir(t)
	if err := os.Remove(filepath.Join(dir, "issued")); err != nil { // a CA of an older ossd
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n5"}); err != nil {
		t.Fatal(err)
	}
	n, flags := insecureAdmin(t)
	for _, args := range [][]string{{"n4"}, {"n5", "--serial", "abc"}} {
		err := dispatch(append(append([]string{"cert", "revoke", "--ca-dir", dir}, args...), flags...))
		if err == nil || !strings.Contains(err.Error(), "--unlisted for one issued before") || !strings.Contains(err.Error(), "n5") {
			t.Errorf("revoke %v with a partial register: %v; want it refused, naming n5 and --unlisted", args, err)
		}
	}
	if rs := n.Revocations(); len(rs) != 0 {
		t.Fatalf("refused, yet recorded %+v", rs)
	}
	if _, err := captureStdout(t, func() error {
		return dispatch(append([]string{"cert", "revoke", "n5", "--ca-dir", dir}, flags...))
	}); err != nil {
		t.Fatalf("revoke n5, which the partial register lists: %v", err)
	}
}

// serialOf returns the serial, in hexadecimal, of DIR/NAME.crt.
func serialOf(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := pki.Inspect(b)
	if err != nil {
		t.Fatal(err)
	}
	return info.Serial.Text(16)
}

// captureStdout runs f with os.Stdout going to a file and returns what
// was written there.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "stdout")
	file, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = file
	ferr := f()
	os.Stdout = old
	file.Close()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), ferr
}
