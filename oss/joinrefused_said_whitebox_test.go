package oss

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
	"go.uber.org/goleak"
)

// A node whose data directory holds another node's raft ID (NODE_ID
// written over) is refused at Start with an error naming the file and
// the node whose ID it holds.
func TestNodeOnAnotherNodesIDIsRefusedAtStart(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	// x's data directory is made before the cluster, so that it is
	// removed after the cluster's nodes (x among them, if the test ends
	// while it runs) have stopped: cleanups run last registered first.
	dir := t.TempDir()
	c := newQUICCluster(t, "a", "b", "c")
	x, err := c.launch("x", pki.RoleServer, func(cfg *Config) { cfg.DataDir = dir })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "x to follow the catalog", func() bool {
		h := x.catalog.Load()
		return h != nil && h.current()
	})
	addr := x.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// x leaves, as ossd's SIGTERM makes it: its own raft ID is in no
	// group when it comes back under a's.
	old := x.id
	if err := x.Close(ctx); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, "x")
	waitFor(t, "x's raft ID to leave the catalog's group", func() bool {
		for _, n := range c.nodes {
			if cs := n.catalog.Load().conf.Load(); cs == nil || slices.Contains(cs.Voters, old) || slices.Contains(cs.Learners, old) {
				return false
			}
		}
		return true
	})
	if err := storeNodeID(persist.OS{}, dir, c.nodes["a"].id); err != nil {
		t.Fatal(err)
	}
	// Since 2026-12-05 Start compares the ID with what x's own replica
	// of the catalog records and refuses to run: before, x started, and
	// only the groups' refusals (logged by x, naming the node whose ID
	// it holds) told its operator why it never served a heap.
	_, err = c.launch("x", pki.RoleServer, func(cfg *Config) { cfg.DataDir, cfg.Listen = dir, addr })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `node "a"'s, not "x"'s`) || !strings.Contains(err.Error(), "NODE_ID") {
		t.Fatalf("x started on a's raft ID: %v; want ErrCorrupt naming NODE_ID and node a", err)
	}
}
