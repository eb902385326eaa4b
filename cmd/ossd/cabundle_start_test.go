package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "ossd run" refuses, at start, the CA bundles a SIGHUP refuses: a bundle
// of two CAs whose second is cut short (a copy stopped halfway through a
// rotation) started the node trusting the first alone, and every node
// the second certified was refused without a word about the file; so
// did a bundle holding a node's certificate instead of a CA's.
func TestRunRefusesACABundleAReloadRefuses(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	for _, args := range [][]string{
		{"ca", "init", "--dir", dir},
		{"cert", "issue", "--dir", dir, "--name", "n1"},
		{"ca", "init", "--dir", other},
	} {
		if err := dispatch(args); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, otherCA, n1 := read(filepath.Join(dir, "ca.crt")), read(filepath.Join(other, "ca.crt")), read(filepath.Join(dir, "n1.crt"))
	both := append(append([]byte(nil), ca...), otherCA...)
	for _, c := range []struct {
		name   string
		bundle []byte
	}{
		{"second CA cut short", both[:len(ca)+len(otherCA)/2]},
		{"a node's certificate in it", append(append([]byte(nil), ca...), n1...)},
	} {
		if err := os.WriteFile(filepath.Join(dir, "ca.crt"), c.bundle, 0o600); err != nil {
			t.Fatal(err)
		}
		f := &runFlags{name: "n1", certs: dir}
		_, err := f.readTLS()
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "ca.crt")) {
			t.Errorf("%s: %v, want a refusal naming ca.crt", c.name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), both, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&runFlags{name: "n1", certs: dir}).readTLS(); err != nil {
		t.Errorf("a whole bundle of two CAs: %v", err)
	}
}
