package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

func caDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if err := dispatch([]string{"ca", "init", "--dir", dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// noTemporaries fails if a temporary file of ours is left in dir.
func noTemporaries(t *testing.T, dir string, stale ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") && !slices.Contains(stale, e.Name()) {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestCertIssueRefusesToOverwrite(t *testing.T) {
	dir := caDir(t)
	issue := func(extra ...string) error {
		return dispatch(append([]string{"cert", "issue", "--dir", dir, "--name", "n1"}, extra...))
	}
	if err := issue(); err != nil {
		t.Fatal(err)
	}
	keyPath, certPath := filepath.Join(dir, "n1.key"), filepath.Join(dir, "n1.crt")
	key, _ := os.ReadFile(keyPath)
	cert, _ := os.ReadFile(certPath)
	if err := issue(); err == nil || !strings.Contains(err.Error(), "exists") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("issued over an existing key: %v", err)
	}
	if now, _ := os.ReadFile(keyPath); !bytes.Equal(now, key) {
		t.Fatal("the existing key was changed")
	}
	// Only the certificate there: still refused, and the key not written.
	os.Remove(keyPath)
	if err := issue(); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("issued over an existing certificate: %v", err)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Fatal("a key was written next to a certificate it does not match")
	}
	if err := issue("--force"); err != nil {
		t.Fatal(err)
	}
	newKey, _ := os.ReadFile(keyPath)
	newCert, _ := os.ReadFile(certPath)
	if bytes.Equal(newKey, key) || bytes.Equal(newCert, cert) {
		t.Fatal("--force did not replace the key and the certificate")
	}
	if m := mode(t, keyPath); m != 0o600 {
		t.Fatalf("the key has mode %v", m)
	}
	if m := mode(t, certPath); m != 0o644 {
		t.Fatalf("the certificate has mode %v", m)
	}
	noTemporaries(t, dir)
}

func TestCertIssueValidatesName(t *testing.T) {
	dir := caDir(t)
	for _, name := range []string{"../x", "a/b", "..", ".", "x\\y", "a b", "-x", "x\n"} {
		err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name})
		if err == nil || !strings.Contains(err.Error(), "--name") {
			t.Errorf("--name %q: %v", name, err)
		}
	}
	// The CA's own files are not a node's, with --force neither.
	caKey, _ := os.ReadFile(filepath.Join(dir, "ca.key"))
	for _, name := range []string{"ca", "CA"} {
		err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name, "--force"})
		if err == nil || !strings.Contains(err.Error(), "choose another name") {
			t.Errorf("--name %s --force: %v", name, err)
		}
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "ca.key")); string(now) != string(caKey) {
		t.Fatal("cert issue --name ca replaced the CA's key")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x.key")); err == nil {
		t.Fatal("a key was written outside --dir")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 { // ca.crt, ca.key and the register, issued
		t.Fatalf("files written for refused names: %v", ents)
	}
}

func TestCertIssueValidity(t *testing.T) {
	dir := caDir(t)
	for _, c := range []struct{ validity, want string }{
		{"-1h", "positive"},
		{"0s", "positive"},
		{"87600h1m", "ends after the CA"}, // the CA's ten years and a minute
	} {
		err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1", "--validity", c.validity})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--validity %s: %v, want an error about %q", c.validity, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "n1.key")); err == nil {
		t.Fatal("a key was written for a refused validity")
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1", "--validity", "24h"}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"ca", "init", "--dir", t.TempDir(), "--validity", "-1h"}); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Fatalf("ca init with a negative validity: %v", err)
	}
}

// A temporary file left by an earlier run, with a loose mode, is not
// reused: the key is written 0600 through a new exclusive one.
func TestKeysIgnoreStaleTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, stale := range []string{"ca.key.tmp", ".ca.key.tmp-1", "n1.key.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, stale), []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := dispatch([]string{"ca", "init", "--dir", dir}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ca.key", "n1.key"} {
		if m := mode(t, filepath.Join(dir, key)); m != 0o600 {
			t.Errorf("%s has mode %v", key, m)
		}
		b, _ := os.ReadFile(filepath.Join(dir, key))
		if !bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds %q", key, b)
		}
	}
	noTemporaries(t, dir, ".ca.key.tmp-1")
	if err := dispatch([]string{"ca", "init", "--dir", dir}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("ca init over a CA: %v", err)
	}
}

func TestCertRevokeCLI(t *testing.T) {
	dir := caDir(t)
	for _, name := range []string{"n1", "n2"} {
		if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	addr := srv.Addr()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cert", "revoke"}, "want NAME"},
		{[]string{"cert", "revoke", "../x"}, "name"},
		{[]string{"cert", "revoke", "n1", "--serial", "zz"}, "hexadecimal"},
		{[]string{"cert", "revoke", "n1", "--cert", filepath.Join(dir, "n2.crt")}, "not \"n1\""},
		{[]string{"cert", "frobnicate"}, "takes the subcommand"},
	} {
		err := dispatch(append(c.args, "--http", addr, "--http-insecure"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ossd %v: %v, want an error about %q", c.args, err, c.want)
		}
	}
	if err := dispatch([]string{"cert", "revoke", "n1", "--ca-dir", dir, "--http", addr, "--http-insecure"}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "revoke", "--cert", filepath.Join(dir, "n2.crt"), "--ca-dir", dir, "--http", addr, "--http-insecure"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "n2.crt"))
	info, _ := pki.Inspect(b)
	rs := n.Revocations()
	if len(rs) != 2 || rs[0].Name != "n1" || rs[0].Serial != nil || rs[1].Name != "n2" || rs[1].Serial.Cmp(info.Serial) != 0 {
		t.Fatalf("revocations: %+v", rs)
	}
	if err := dispatch([]string{"cert", "revocations", "--http", addr, "--http-insecure"}); err != nil {
		t.Fatal(err)
	}
}

// SIGHUP makes a running node take the certificate and key its files
// hold now.
func TestReloadOnHangup(t *testing.T) {
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		TLS:    &oss.TLSConfig{CertPEM: read("n1.crt"), KeyPEM: read("n1.key"), CAPEM: read("ca.crt")}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	old, _ := n.Certificate()
	catchHangup().serve(ctx, n, nil, tlsFiles{ca: filepath.Join(dir, "ca.crt"), cert: filepath.Join(dir, "n1.crt"), key: filepath.Join(dir, "n1.key")}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1", "--force"}); err != nil {
		t.Fatal(err)
	}
	want, _ := pki.Inspect(read("n1.crt"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute) // a bound against a hang
	for {
		now, _ := n.Certificate()
		if now.Serial.Cmp(want.Serial) == 0 {
			break
		}
		if now.Serial.Cmp(old.Serial) != 0 || time.Now().After(deadline) {
			t.Fatalf("after SIGHUP the node runs on serial %x, want %x", now.Serial, want.Serial)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
