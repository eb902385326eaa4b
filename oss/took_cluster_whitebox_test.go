package oss

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
)

// quicConfig is a configuration of a node named name on QUIC with a
// certificate of c's CA, its data in dir, bootstrapping unless join.
func (c *quicCluster) quicConfig(name, dir string, join ...string) *Config {
	c.t.Helper()
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, name, pki.RoleServer, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	return &Config{Name: name, Listen: "127.0.0.1:0", Gossip: GossipLoopback, DataDir: dir, Join: join,
		Logger: testLogger().With("test", c.t.Name()), TLS: &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}}
}

// A bootstrapping node whose NODE_ID cannot be written (a full disk)
// after the CLUSTER it drew was removes that CLUSTER again, and says so:
// left behind, a start with Join was refused as another cluster's, and
// the error said only "node identity: no space left on device".
func TestNodeIDUnwrittenRemovesDrawnCluster(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	dir := t.TempDir()
	ffs := &persist.FaultFS{FS: persist.OS{}}
	ffs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpCreate && filepath.Base(name) == nodeIDFile+".tmp" {
			return syscall.ENOSPC
		}
		return nil
	})
	cfg := c.quicConfig("b", dir)
	cfg.FS = ffs
	if b, err := Start(context.Background(), cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("started with its NODE_ID unwritten")
	} else if !strings.Contains(err.Error(), "was removed from "+filepath.Join(dir, clusterIDFile)) {
		t.Errorf("the error does not say the drawn cluster ID was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, clusterIDFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the failed start left its CLUSTER: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	b, err := startJoining(ctx, t, c.quicConfig("b", dir, c.nodes["a"].Addr()))
	if err != nil {
		t.Fatalf("joining on the data directory of the failed start: %v", err)
	}
	defer b.Close(context.Background())
	if b.ClusterID() != c.nodes["a"].ClusterID() {
		t.Errorf("b is of cluster %x, a of %x", b.ClusterID(), c.nodes["a"].ClusterID())
	}
}

// A node that took a cluster's ID from a join's gossip and never joined
// its catalog (its start killed: one that fails takes the ID back,
// unadmitted.go) is refused a bootstrap (a start without Join): it made a
// second cluster under the first one's ID.
func TestTookClusterRefusesBootstrap(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	a := c.nodes["a"]
	dir := t.TempDir()
	cfg := c.quicConfig("b", dir, a.Addr())
	cfg.leaveFailedStart = true // as a kill leaves it
	ctx, cancel := context.WithCancel(context.Background())
	cfg.catalogStep = func(step string, _ *Heap) {
		if step == "join" {
			cancel() // the catalog is never joined
		}
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined the catalog with Start's context ended")
	}
	if id, err := loadClusterID(persist.OS{}, dir); err != nil || id != a.ClusterID() {
		t.Fatalf("b kept cluster %x (%v), not a's %x", id, err, a.ClusterID())
	}
	b, err := Start(context.Background(), c.quicConfig("b", dir))
	if err == nil {
		defer b.Close(context.Background())
		t.Fatalf("b bootstrapped cluster %x, a's ID", b.ClusterID())
	}
	if want := "took cluster"; !strings.Contains(err.Error(), want) {
		t.Errorf("want %q, got %v", want, err)
	}
}

// A node that drew its cluster's ID and stopped before its catalog's
// first record (its start killed once its membership ran: one that
// fails takes the ID back, unadmitted.go) bootstraps again, under the
// ID it drew.
func TestDrawnClusterBootstrapsAgain(t *testing.T) {
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
	drawn, err := loadClusterID(persist.OS{}, dir)
	if err != nil || drawn == 0 {
		t.Fatalf("the first start kept no cluster ID: %x, %v", drawn, err)
	}
	a, err := Start(context.Background(), c.quicConfig("a", dir))
	if err != nil {
		t.Fatalf("bootstrapping again: %v", err)
	}
	defer a.Close(context.Background())
	if a.ClusterID() != drawn {
		t.Errorf("a is of cluster %x, drew %x", a.ClusterID(), drawn)
	}
}
