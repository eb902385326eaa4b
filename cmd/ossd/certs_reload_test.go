package main

import (
	"context"
	"crypto/tls"
	"github.com/objectsharing/oss/oss/osstest"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// adminSerial returns the serial number of the certificate the admin
// interface at addr presents to a client with the admin certificate of
// dir.
func adminSerial(t *testing.T, dir, addr string) *big.Int {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// SIGHUP rotates the certificate the admin interface presents along with
// the node's: it went on presenting the one the node started with, so
// after a rotation (and the old certificate's revocation, or its expiry)
// the CLI met a revoked or expired certificate, or after a CA rotation
// one of a CA it no longer trusts, until the node restarted.
func TestHangupReloadsTheAdminCertificate(t *testing.T) {
	dir := caDir(t)
	for _, args := range [][]string{{"--name", "n1"}, {"--name", "admin", "--role", "admin"}} {
		if err := dispatch(append([]string{"cert", "issue", "--dir", dir}, args...)); err != nil {
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tlsc := &oss.TLSConfig{CertPEM: read("n1.crt"), KeyPEM: read("n1.key"), CAPEM: read("ca.crt")}
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback, Logger: quiet, TLS: tlsc})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Logger: quiet, CAPEM: tlsc.CAPEM, CertPEM: tlsc.CertPEM, KeyPEM: tlsc.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	catchHangup().serve(ctx, n, srv, tlsFiles{ca: filepath.Join(dir, "ca.crt"), cert: filepath.Join(dir, "n1.crt"), key: filepath.Join(dir, "n1.key")}, quiet)

	old, _ := pki.Inspect(tlsc.CertPEM)
	if got := adminSerial(t, dir, srv.Addr()); got.Cmp(old.Serial) != 0 {
		t.Fatalf("the admin interface presents serial %x, want the node's %x", got, old.Serial)
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1", "--force"}); err != nil {
		t.Fatal(err)
	}
	want, _ := pki.Inspect(read("n1.crt"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to take the new certificate", func() bool {
		now, _ := n.Certificate()
		return now.Serial.Cmp(want.Serial) == 0
	})
	// The admin interface is swapped after the node.
	waitFor(t, "the admin interface to present the new certificate", func() bool {
		return adminSerial(t, dir, srv.Addr()).Cmp(want.Serial) == 0
	})
}

// A SIGHUP while "ossd run" starts (here: waits to join) no longer ends
// the process: the signal's default action killed it (exit 129, nothing
// logged), so a "systemctl reload" during a long recovery stopped the
// node. The SIGTERM after it ends the wait as it should.
func TestHangupWhileStartingKeepsTheNode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	nobody, err := c.Reserve(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Reserve(ctx, "n2")
	if err != nil {
		t.Fatal(err)
	}
	cmd, out, done := runWaitingToJoin(t, ctx, c, "n2", n2.Addr, n2.HTTP, nobody.Addr)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := osstest.Recv(t, done, "ossd run to stop on SIGTERM"); err != nil {
		t.Fatalf("ossd run, sent SIGHUP then SIGTERM while it waited to join: %v, want it to stop on SIGTERM alone\n%s", err, out.String())
	}
}
