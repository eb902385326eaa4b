package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// probeCerts makes a CA and a server certificate for n1 in a new
// directory, as the README's commands do.
func probeCerts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if err := dispatch([]string{"ca", "init", "--dir", dir}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// An admin address that cannot be bound (in use, or a bad port) fails
// "ossd run" before the node starts: it used to bootstrap (or join a
// cluster, registering in its catalog), then fail and leave.
func TestProbeRunBindsAdminAddressFirst(t *testing.T) {
	certs := probeCerts(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, addr := range []string{busy.Addr().String(), "127.0.0.1:99999"} {
		data := filepath.Join(t.TempDir(), "n1")
		err := dispatch([]string{"run", "--name", "n1", "--listen", "127.0.0.1:0", "--http", addr, "--certs", certs, "--data-dir", data})
		if err == nil || !strings.Contains(err.Error(), "--http") {
			t.Errorf("--http %s: %v, want an error naming --http", addr, err)
		}
		if _, serr := os.Stat(data); serr == nil {
			t.Errorf("--http %s: the node started (%s exists) before the admin address failed: %v", addr, data, err)
		}
	}
}
