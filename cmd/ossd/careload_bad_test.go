package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A ca.crt that cannot be taken at SIGHUP (missing, not PEM, empty, cut
// short, or one that does not certify the node's own certificate) is
// refused with an ERROR naming the file and why; the node goes on
// trusting its CA bundle and serving operators of it. A good one is
// taken after. ca.crt used to be read at the start only, so none of this
// was looked at.
func TestHangupRefusesABadCABundle(t *testing.T) {
	dir := caDir(t)
	for _, args := range [][]string{{"--name", "n1"}, {"--name", "admin", "--role", "admin"}} {
		if err := dispatch(append([]string{"cert", "issue", "--dir", dir}, args...)); err != nil {
			t.Fatal(err)
		}
	}
	other, op := caDir(t), filepath.Join(t.TempDir(), "op")
	copyFiles(t, dir, op, "ca.crt", "admin.crt", "admin.key")
	caFile := filepath.Join(dir, "ca.crt")
	good := readFile(t, caFile)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := new(syncBuffer)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	tlsc := &oss.TLSConfig{CertPEM: readFile(t, filepath.Join(dir, "n1.crt")), KeyPEM: readFile(t, filepath.Join(dir, "n1.key")), CAPEM: good}
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback, Logger: logger, TLS: tlsc})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Logger: logger, CAPEM: tlsc.CAPEM, CertPEM: tlsc.CertPEM, KeyPEM: tlsc.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	catchHangup().serve(ctx, n, srv, tlsFiles{ca: caFile, cert: filepath.Join(dir, "n1.crt"), key: filepath.Join(dir, "n1.key")}, logger)
	hangup := func(want string) string {
		t.Helper()
		before := len(logs.String())
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		var line string
		waitFor(t, "the reload to log "+want, func() bool {
			for _, l := range strings.Split(logs.String()[before:], "\n") {
				if strings.Contains(l, want) {
					line = l
					return true
				}
			}
			return false
		})
		return line
	}
	for _, c := range []struct {
		what, reason string
		pem          []byte // nil: no file
	}{
		{"missing", "no such file", nil},
		{"not PEM", "no PEM certificate", []byte("not a certificate\n")},
		{"empty", "no PEM certificate", []byte{}},
		{"cut short", "cut short", good[:len(good)/2]},
		{"of another CA", "does not certify", readFile(t, filepath.Join(other, "ca.crt"))},
	} {
		os.Remove(caFile)
		if c.pem != nil {
			writeFile(t, caFile, c.pem, 0o644)
		}
		line := hangup("level=ERROR")
		if !strings.Contains(line, caFile) || !strings.Contains(line, c.reason) {
			t.Errorf("ca.crt %s: logged %q, want an ERROR naming %s and %q", c.what, line, caFile, c.reason)
		}
		if n.Context().Err() != nil {
			t.Fatalf("ca.crt %s: the node stopped", c.what)
		}
		// The node's CA still certifies its operators.
		cl, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{CertDir: op, Name: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Heaps(ctx); err != nil {
			t.Errorf("ca.crt %s: an operator of the CA kept: %v", c.what, err)
		}
		cl.Close()
	}
	writeFile(t, caFile, good, 0o644)
	hangup(`msg="CA bundle reloaded"`)
}
