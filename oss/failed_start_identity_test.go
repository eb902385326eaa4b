package oss_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// A node started without Join whose --listen cannot be bound (a port
// another process holds) fails its start; started again on the same data
// directory with Join, it joins the cluster instead of being refused as a
// member of the cluster the failed start would have bootstrapped.
func TestFailedBootstrapLeavesDataDirJoinable(t *testing.T) {
	t.Parallel()
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := oss.Start(ctx, &oss.Config{Name: "a", Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		TLS: tlsFor(t, caCert, caKey, "a"), Gossip: oss.GossipLoopback, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())

	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := filepath.Join(t.TempDir(), "b")
	cfg := &oss.Config{Name: "b", Listen: taken.LocalAddr().String(), DataDir: dir,
		TLS: tlsFor(t, caCert, caKey, "b"), Gossip: oss.GossipLoopback, Logger: quietLogger()}
	if b, err := oss.Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("started on a UDP port another socket holds")
	}
	if _, err := os.Stat(filepath.Join(dir, "CLUSTER")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed start left a cluster ID in the data directory: %v", err)
	}

	cfg.Listen = "127.0.0.1:0"
	cfg.Join = []string{a.Addr()}
	b, err := oss.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("joining on the data directory of a failed start: %v", err)
	}
	defer b.Close(context.Background())
	if b.ClusterID() != a.ClusterID() {
		t.Errorf("b is of cluster %x, a of %x", b.ClusterID(), a.ClusterID())
	}
}
