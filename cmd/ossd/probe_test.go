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

// A misspelled OSS_* variable (as in a systemd environment file) is not
// ignored without a word: "ossd run" names it and the flag it is near. A
// node whose OSS_JOIN was spelled OSS_JION bootstrapped a cluster of its
// own. Variables far from every flag (other commands', the tests') are
// left alone.
func TestProbeRunNamesMisspelledEnvironment(t *testing.T) {
	t.Setenv("OSS_JION", "127.0.0.1:7401")
	t.Setenv("OSS_DATADIR", "/var/lib/ossd/n1")
	t.Setenv("OSS_REPLICAS", "3")
	t.Setenv("OSS_LONG", "1")
	var f runFlags
	if err := f.parse(nil); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range f.envTypos {
		got[e.name] = e.near
	}
	want := map[string]string{"OSS_JION": "OSS_JOIN", "OSS_DATADIR": "OSS_DATA_DIR"}
	for name, near := range want {
		if got[name] != near {
			t.Errorf("%s: named near %q, want %q (all: %v)", name, got[name], near, got)
		}
	}
	for _, name := range []string{"OSS_REPLICAS", "OSS_LONG"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s named a misspelling (all: %v)", name, got)
		}
	}
}
