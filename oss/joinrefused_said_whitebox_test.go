package oss

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
	"go.uber.org/goleak"
)

// A node whose data directory holds another node's raft ID (NODE_ID
// written over) starts, and every group's leader refuses to take its
// replicas: the ID is that node's. The leaders logged each refusal; the
// node itself said nothing but that it had no leader in reach, so its
// operator could not learn why it never served a heap. It now logs the
// refusal, naming the node whose ID it holds.
func TestReplicaRefusedByItsGroupSaysWhy(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a", "b", "c")
	dir := t.TempDir()
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
	logs := new(syncBuffer)
	if _, err := c.launch("x", pki.RoleServer, func(cfg *Config) {
		cfg.DataDir, cfg.Listen = dir, addr
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("x's log:\n%s", logs.String())
		}
	})
	waitFor(t, "x to log that its group refuses it, and why", func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "refuse") && strings.Contains(line, `node \"a\"'s, not \"x\"'s`) {
				return true
			}
		}
		return false
	})
}
