package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// A player's missing certificate was always answered "issue one with:
// ossd cert issue --dir DIR": wrong when ca.crt was what was missing
// (--certs named the wrong directory) and when DIR holds no ca.key, as
// a window's local cluster's directory does (the command then fails). The
// advice now follows what is missing and where the CA's key is.
func TestMissingCertsAdviceFollowsTheDirectory(t *testing.T) {
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write := func(dir, file string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	empty := t.TempDir()
	_, err = readCerts(empty, "player2")
	if err == nil || !strings.Contains(err.Error(), "--certs names the directory holding the cluster's ca.crt") || strings.Contains(err.Error(), "--dir "+empty) {
		t.Errorf("readCerts of a directory without ca.crt: %v; want --certs named as the mistake, not a cert issue there", err)
	}

	window := t.TempDir() // a local cluster's: ca.crt and players' certificates, no ca.key
	write(window, "ca.crt", caCert)
	for _, p := range []string{"player2", "player3"} {
		cert, key, err := pki.IssueCert(caCert, caKey, p, pki.RoleClient, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		write(window, p+".crt", cert)
		write(window, p+".key", key)
	}
	_, err = readCerts(window, "player9")
	if err == nil || strings.Contains(err.Error(), "--dir "+window) || !strings.Contains(err.Error(), "holds no CA key") || !strings.Contains(err.Error(), "player2, player3") {
		t.Errorf("readCerts of a player the directory lacks, without ca.key: %v; want the CA's directory asked for and player2, player3 listed", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("readCerts error %v does not match the file's error", err)
	}

	ca := t.TempDir() // the CA's own directory
	write(ca, "ca.crt", caCert)
	write(ca, "ca.key", caKey)
	_, err = readCerts(ca, "alice")
	if err == nil || !strings.Contains(err.Error(), "ossd cert issue --dir "+ca+" --name alice --role client") {
		t.Errorf("readCerts of a player the CA's directory lacks: %v; want the cert issue command there", err)
	}
}

// A client refused a heap names the permission it lacks: read, for the
// first call a player makes (opening the heap), and the error's own
// advice is "--perm read". A player writes, so the status said to grant
// read, and then the next refusal said write. It now asks for write, or
// admin where the heap is still to be created.
func TestPermissionFailureAsksForWrite(t *testing.T) {
	read := fmt.Errorf("heap %q: %w", "wissenheim", &oss.PermissionError{Who: "bob", Role: pki.RoleClient, Heap: "wissenheim", Perm: oss.PermRead})
	why := joinFailure("bob", "127.0.0.1:7401", read)
	if !strings.Contains(why, "ossd acl grant --to bob --heap wissenheim --perm write") {
		t.Errorf("a read refused: %q; want the grant of write", why)
	}
	admin := &oss.PermissionError{Who: "bob", Role: pki.RoleClient, Heap: "world2", Perm: oss.PermAdmin}
	if why := joinFailure("bob", "127.0.0.1:7401", admin); !strings.Contains(why, "--heap world2 --perm admin") {
		t.Errorf("a creation refused: %q; want the grant of admin", why)
	}
}
