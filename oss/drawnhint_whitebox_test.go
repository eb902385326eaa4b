package oss

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/persist"
)

// A bootstrap killed after it wrote the cluster's ID it drew and before
// its catalog's first record, started again with Join naming another
// cluster, is refused saying that it drew the ID (it was told it took
// it from a cluster it never got into), and naming both files to
// remove; removed, the node joins.
func TestKilledBootstrapsJoinSaysItDrewTheID(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	dir := t.TempDir()
	cfg := c.quicConfig("b", dir)
	cfg.leaveFailedStart = true // as a kill leaves it
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.tuneGossip = func(*memberlist.Config) { cancel() } // its identity is on disk, its catalog not open
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("bootstrapped with Start's context ended")
	}
	drawn, err := drawnClusterOnDisk.load(persist.OS{}, dir)
	if kept, cerr := loadClusterID(persist.OS{}, dir); err != nil || cerr != nil || drawn == 0 || kept != drawn {
		t.Fatalf("the killed bootstrap left CLUSTER %x (%v), DRAWN_CLUSTER %x (%v)", kept, cerr, drawn, err)
	}
	cluster, drawnFile := filepath.Join(dir, clusterIDFile), filepath.Join(dir, drawnClusterFile)
	b, err := Start(context.Background(), c.quicConfig("b", dir, c.nodes["a"].Addr()))
	if err == nil {
		b.Close(context.Background())
		t.Fatal("joined a's cluster with an ID of its own")
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if !errors.Is(err, ErrOtherCluster) || !strings.Contains(msg, "drew cluster") || strings.Contains(msg, "took cluster") ||
		!strings.Contains(msg, cluster) || !strings.Contains(msg, drawnFile) {
		t.Fatalf("want the refusal saying the node drew the ID, naming %s and %s to remove; got %v", cluster, drawnFile, err)
	}
	for _, f := range []string{cluster, drawnFile} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	b = joinsA(t, c, dir)
	defer b.Close(context.Background())
}
