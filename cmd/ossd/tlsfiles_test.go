package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A damaged certificate, key or CA file (emptied, cut short, a flipped
// byte, another node's) stops "ossd run" with an error that names the
// file. Before, the node's own checks failed later with "Listen needs TLS
// material", "P256 point not on curve" or "no CA certificate in CAPEM",
// which name no file.
func TestRunNamesADamagedTLSFile(t *testing.T) {
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
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pristine := map[string][]byte{"ca.crt": read("ca.crt"), "n1.crt": read("n1.crt"), "n1.key": read("n1.key")}
	flip := func(b []byte) []byte {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0x01
		return b
	}
	for _, c := range []struct {
		name, file string
		data       []byte
	}{
		{"certificate emptied", "n1.crt", nil},
		{"certificate flipped", "n1.crt", flip(pristine["n1.crt"])},
		{"key cut short", "n1.key", pristine["n1.key"][:40]},
		{"another node's key", "n1.key", read("n2.key")},
		{"CA emptied", "ca.crt", nil},
		{"CA flipped", "ca.crt", flip(pristine["ca.crt"])},
	} {
		t.Run(c.name, func(t *testing.T) {
			for name, b := range pristine {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, c.file), c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			f := &runFlags{name: "n1", certs: dir}
			_, err := f.readTLS()
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, c.file)) {
				t.Fatalf("%s: %v", c.name, err)
			}
		})
	}
}
