package oss

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport/transporttest"
)

// failClusterWrite is a FaultFS over the operating system's file system
// that fails the write of CLUSTER, calling seen first.
func failClusterWrite(seen func()) *persist.FaultFS {
	ffs := &persist.FaultFS{FS: persist.OS{}}
	ffs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpCreate && filepath.Base(name) == clusterIDFile+".tmp" {
			seen()
			return syscall.EIO
		}
		return nil
	})
	return ffs
}

// A bootstrapping node on QUIC keeps the cluster ID it drew before its
// membership runs: a peer that joined it over gossip while the write was
// under way took (and kept) an ID the node, once that write failed, no
// longer had, and was refused by the node's next bootstrap, of another
// ID, as another cluster's.
func TestDrawnClusterKeptBeforeGossip(t *testing.T) {
	t.Parallel()
	var members, atWrite atomic.Int32
	atWrite.Store(-1)
	c := newQUICClusterWith(t, 0, nil)
	dir := t.TempDir()
	n, err := c.launch("a", pki.RoleServer, func(cfg *Config) {
		cfg.DataDir = dir
		cfg.FS = failClusterWrite(func() { atWrite.Store(members.Load()) })
		cfg.onMemberEvent = func(memberEvent) { members.Add(1) }
	})
	if err == nil {
		n.stop(context.Background(), false)
		t.Fatal("started with its CLUSTER unwritten")
	}
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("want the write's EIO, got %v", err)
	}
	if got := atWrite.Load(); got != 0 {
		t.Errorf("membership ran (%d events) before the drawn cluster ID was on disk", got)
	}
}

// So does a node on an in-process network: it announces itself only
// once its identity is on disk.
func TestDrawnClusterKeptBeforeAnnounced(t *testing.T) {
	t.Parallel()
	nw := transporttest.NewNetwork(1)
	nw.Start()
	t.Cleanup(nw.Stop)
	announced := atomic.Int32{}
	announced.Store(-1)
	n, err := Start(context.Background(), &Config{Name: "a", Transport: nw, DataDir: t.TempDir(), Logger: testLogger(),
		FS: failClusterWrite(func() { announced.Store(int32(len(nw.Live("a")))) })})
	if err == nil {
		n.Close(context.Background())
		t.Fatal("started with its CLUSTER unwritten")
	}
	if got := announced.Load(); got != 0 {
		t.Errorf("the node was announced (%d records live) before its drawn cluster ID was on disk", got)
	}
}
