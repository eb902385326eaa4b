package oss

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// otherCluster is a second cluster of c's CA: its nodes take c's
// nodes' certificates, and a node of either may be pointed at the other.
func (c *quicCluster) otherCluster(t *testing.T, names ...string) *quicCluster {
	o := &quicCluster{t: t, caCert: c.caCert, caKey: c.caKey, nodes: map[string]*Node{}}
	t.Cleanup(func() {
		for _, n := range o.nodes {
			n.stop(context.Background(), false)
		}
	})
	for _, name := range names {
		o.start(name)
	}
	return o
}

// clusterTakenBack fails t unless dir holds no cluster ID (CLUSTER,
// DRAWN_CLUSTER) and still holds the node's NODE_ID, which it returns: a
// leader may have made that ID a first voter from membership alone.
func clusterTakenBack(t *testing.T, dir string) uint64 {
	t.Helper()
	for _, name := range []string{clusterIDFile, drawnClusterFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the failed start left %s: %v", name, err)
		}
	}
	id, err := loadNodeID(persist.OS{}, dir)
	if err != nil || id == 0 {
		t.Fatalf("the failed start did not keep NODE_ID: %x, %v", id, err)
	}
	return id
}

// joinsA starts b on dir joining a's cluster, and checks it runs in it.
func joinsA(t *testing.T, c *quicCluster, dir string) *Node {
	t.Helper()
	a := c.nodes["a"]
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	b, err := startJoining(ctx, t, c.quicConfig("b", dir, a.Addr()))
	if err != nil {
		t.Fatalf("joining a's cluster on the data directory of the failed start: %v", err)
	}
	if b.ClusterID() != a.ClusterID() {
		t.Errorf("b is of cluster %x, a of %x", b.ClusterID(), a.ClusterID())
	}
	return b
}

// joinsAUnderItsKeptID checks that a failed start took back its cluster
// ID and kept its NODE_ID (clusterTakenBack), then starts b on dir
// joining a's cluster and checks it runs under that ID.
func joinsAUnderItsKeptID(t *testing.T, c *quicCluster, dir string) {
	t.Helper()
	id := clusterTakenBack(t, dir)
	b := joinsA(t, c, dir)
	defer b.Close(context.Background())
	if b.id != id {
		t.Errorf("b joined as %x, not under the NODE_ID it kept, %x", b.id, id)
	}
}

// A new node pointed at the wrong cluster first (it merged with that
// cluster's membership and took its ID, then its start ended before the
// catalog took it in) takes back the cluster's ID it took, and a start
// joining the right cluster gets in, under the node's raft ID. It was
// refused as a member of the first cluster ("a member of another
// cluster"), its CLUSTER to be removed by hand.
func TestWrongClusterFirstThenTheRightOneJoins(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	wrong := c.otherCluster(t, "m")
	dir := filepath.Join(t.TempDir(), "b")
	cfg := c.quicConfig("b", dir, wrong.nodes["m"].Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.catalogStep = func(step string, _ *Heap) {
		if step == "join" {
			cancel() // stopped while it waits for the wrong cluster
		}
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined the catalog with Start's context ended")
	}
	joinsAUnderItsKeptID(t, c, dir)
}

// A Start whose context ends while it asks a cluster's catalog to take
// it in (the catalog has no quorum: two of its three voters crashed)
// takes back the cluster's ID it took, and a start joining another
// cluster gets in.
func TestContextEndedWhileAskingThenAnotherClusterJoins(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	m := c.otherCluster(t, "m1", "m2", "m3")
	await.Until(t, "three voters of m's catalog", func() bool {
		cs := m.nodes["m1"].catalog.Load().conf.Load()
		return cs != nil && len(cs.Voters) == 3 && len(cs.VotersOutgoing) == 0
	})
	m.nodes["m2"].stop(context.Background(), false)
	m.nodes["m3"].stop(context.Background(), false)
	dir := filepath.Join(t.TempDir(), "b")
	cfg := c.quicConfig("b", dir, m.nodes["m1"].Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.catalogStep = func(step string, _ *Heap) {
		if step == "join" {
			time.AfterFunc(time.Second, cancel) // while it asks
		}
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined a catalog without quorum")
	}
	joinsAUnderItsKeptID(t, c, dir)
}

// A node admitted to a cluster keeps its identity when its start fails
// after that (its raft ID is in the catalog's configuration), and when a
// restart fails; started again it runs under the raft ID it was admitted
// with.
func TestAdmittedNodesFailedStartsKeepItsIdentity(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	a := c.nodes["a"]
	dir := t.TempDir()
	cfg := c.quicConfig("b", dir, a.Addr())
	var id uint64
	cfg.catalogOpened = func(h *Heap) {
		id = h.self
		h.close() // lost once admitted: Start fails
	}
	if b, err := Start(context.Background(), cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("started on a closed catalog replica")
	}
	kept := func(when string) {
		t.Helper()
		if got, err := loadNodeID(persist.OS{}, dir); err != nil || got != id {
			t.Fatalf("%s: NODE_ID holds %x (%v), the node was admitted as %x", when, got, err, id)
		}
		if got, err := loadClusterID(persist.OS{}, dir); err != nil || got != a.ClusterID() {
			t.Fatalf("%s: CLUSTER holds %x (%v), the node was admitted to %x", when, got, err, a.ClusterID())
		}
	}
	kept("after the failed first start")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if b, err := Start(ctx, c.quicConfig("b", dir, "127.0.0.1:1")); err == nil {
		b.Close(context.Background())
		t.Fatal("restarted joining through an address nothing answers")
	}
	kept("after the failed restart")

	b := joinsA(t, c, dir)
	defer b.Close(context.Background())
	if b.id != id {
		t.Errorf("b runs as %x, was admitted as %x", b.id, id)
	}
}

// A start killed while it asks to join (it took the cluster's ID and
// wrote its NODE_ID, nothing taken back), started again with the same
// Join, gets in, under the raft ID it wrote.
func TestKilledJoinGetsInWithTheSameJoin(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	dir := t.TempDir()
	cfg := c.quicConfig("b", dir, c.nodes["a"].Addr())
	cfg.leaveFailedStart = true // as a kill leaves it
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.catalogStep = func(step string, _ *Heap) {
		if step == "join" {
			cancel()
		}
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined the catalog with Start's context ended")
	}
	id, err := loadNodeID(persist.OS{}, dir)
	if err != nil || id == 0 {
		t.Fatalf("the killed start left no NODE_ID: %x, %v", id, err)
	}
	b := joinsA(t, c, dir)
	defer b.Close(context.Background())
	if b.id != id {
		t.Errorf("b runs as %x, its NODE_ID held %x", b.id, id)
	}
}

// A start killed after it took the wrong cluster's ID keeps it, and a
// start joining the right cluster is refused naming the file to remove
// (it was told the file had been replaced, as for a member); removed,
// the node joins.
func TestKilledWrongJoinNamesTheFileToRemove(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	wrong := c.otherCluster(t, "m")
	dir := t.TempDir()
	cfg := c.quicConfig("b", dir, wrong.nodes["m"].Addr())
	cfg.leaveFailedStart = true // as a kill leaves it
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.catalogStep = func(step string, _ *Heap) {
		if step == "join" {
			cancel()
		}
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined the catalog with Start's context ended")
	}
	file := filepath.Join(dir, clusterIDFile)
	b, err := Start(context.Background(), c.quicConfig("b", dir, c.nodes["a"].Addr()))
	if err == nil {
		b.Close(context.Background())
		t.Fatal("joined a's cluster with m's cluster ID")
	}
	if !errors.Is(err, ErrOtherCluster) || !strings.Contains(err.Error(), "remove that file") || !strings.Contains(err.Error(), file) {
		t.Fatalf("want the refusal naming %s to remove; got %v", file, err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	b = joinsA(t, c, dir)
	defer b.Close(context.Background())
}
