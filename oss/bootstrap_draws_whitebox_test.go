package oss

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/persist"
)

// A node whose start with Join was killed before it met anyone keeps its
// NODE_ID and no CLUSTER (as a start that fails leaves it too:
// unadmitted.go); started without Join it bootstraps a cluster
// under an ID it draws and keeps. It bootstrapped one of ID 0, which no
// other cluster's nodes refuse and which takes the ID of the first
// cluster it merges with.
func TestBootstrapAfterAFailedJoinDrawsAnID(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cfg := c.quicConfig("b", dir, "127.0.0.1:1")
	cfg.leaveFailedStart = true // as a kill leaves it
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined a cluster at an address nothing answers")
	}
	b, err := Start(context.Background(), c.quicConfig("b", dir))
	if err != nil {
		t.Fatalf("bootstrapping after the failed join: %v", err)
	}
	defer b.Close(context.Background())
	if b.ClusterID() == 0 {
		t.Fatal("bootstrapped a cluster of no ID")
	}
	if kept, err := loadClusterID(persist.OS{}, dir); err != nil || kept != b.ClusterID() {
		t.Fatalf("CLUSTER holds %x (%v), the node runs as %x", kept, err, b.ClusterID())
	}
}

// The remedy tookCluster names (remove CLUSTER to make a new cluster)
// makes a new cluster: of an ID of its own, not 0, not the one taken.
// The taken ID is what a start killed before it joined the catalog
// leaves (one that fails takes it back: unadmitted.go).
func TestRemovedTakenClusterBootstrapsANewID(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	a := c.nodes["a"]
	dir := t.TempDir()
	cfg := c.quicConfig("b", dir, a.Addr())
	cfg.leaveFailedStart = true // as a kill leaves it
	ctx, cancel := context.WithCancel(context.Background())
	cfg.catalogStep = func(step string, _ *Heap) {
		if step == "join" {
			cancel()
		}
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined the catalog with Start's context ended")
	}
	if _, err := Start(context.Background(), c.quicConfig("b", dir)); err == nil || !strings.Contains(err.Error(), "took cluster") {
		t.Fatalf("bootstrap under a taken ID: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, clusterIDFile)); err != nil {
		t.Fatal(err)
	}
	b, err := Start(context.Background(), c.quicConfig("b", dir))
	if err != nil {
		t.Fatalf("bootstrapping with CLUSTER removed: %v", err)
	}
	defer b.Close(context.Background())
	if id := b.ClusterID(); id == 0 || id == a.ClusterID() {
		t.Fatalf("the new cluster's ID is %x (a's is %x)", id, a.ClusterID())
	}
}

// A damaged DRAWN_CLUSTER is named, with its remedy, where it was read
// as absent and the node told it had taken an ID it drew. The drawn ID
// is what a bootstrap killed before its catalog's first record leaves.
func TestDamagedDrawnClusterIsNamed(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil)
	dir := t.TempDir()
	cfg := c.quicConfig("a", dir)
	cfg.leaveFailedStart = true // as a kill leaves it
	ctx, cancel := context.WithCancel(context.Background())
	cfg.onMemberEvent = func(memberEvent) { cancel() }
	if a, err := Start(ctx, cfg); err == nil {
		a.Close(context.Background())
		t.Fatal("started with its context ended")
	}
	if err := os.WriteFile(filepath.Join(dir, drawnClusterFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), c.quicConfig("a", dir))
	if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), drawnClusterFile) {
		t.Fatalf("a damaged %s: %v", drawnClusterFile, err)
	}
}
