package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A ca.crt replaced by another CA's (the third step of a CA rotation
// done in the directory the old CA was made in) beside the old ca.key
// made "cert issue" say only "pki: load CA: tls: private key does not
// match public key", naming no file; a ca.key kept offline, as "ca init"
// advises, made it say only "open DIR/ca.key: no such file or directory".
// Both now name the files and where to issue from.
func TestCertIssueNamesMismatchedCAFiles(t *testing.T) {
	dir, other := caDir(t), caDir(t)
	crt, err := os.ReadFile(filepath.Join(other, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), crt, 0o644); err != nil {
		t.Fatal(err)
	}
	err = dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"})
	if err == nil {
		t.Fatal("cert issue from a ca.crt and a ca.key of two CAs succeeded")
	}
	for _, want := range []string{filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), "not one CA's certificate and key", "--dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "n1.crt")); !os.IsNotExist(err) {
		t.Errorf("n1.crt written (stat: %v)", err)
	}

	if err := os.Remove(filepath.Join(other, "ca.key")); err != nil {
		t.Fatal(err)
	}
	err = dispatch([]string{"cert", "issue", "--dir", other, "--name", "n1"})
	if err == nil {
		t.Fatal("cert issue without ca.key succeeded")
	}
	for _, want := range []string{"no CA key " + filepath.Join(other, "ca.key"), "where the CA's key is kept"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
