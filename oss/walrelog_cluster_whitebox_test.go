package oss

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// Three nodes on disk, as ossd runs them, with the catalog and an idle
// heap beside a busy one: after many commits to the busy heap every
// node's log is within a few segments (the catalog's and the idle heap's
// replicas, leaders and followers, let go of it, their hard state logged
// again, while the catalog elects new leaders twice), and after a
// restart of every node the busy heap holds every commit, and no
// catalog replica's logged term went back.
func TestThreeNodeLogsBoundedBesideIdleReplicas(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	const segment = 64 << 10
	names := []string{"a", "b", "c"}
	// The data directories are made before the cluster, so that they are
	// removed after its nodes close: a log whose directory is removed
	// under it stops and marks the directory (persist.ErrGone).
	dirs := map[string]string{}
	for _, name := range names {
		dirs[name] = t.TempDir()
	}
	c := startTestNodesWith(t, 5, func(cfg *Config) {
		checkpointOften(64, 16)(cfg)
		cfg.walSegmentBytes = segment
	})
	start := func() {
		for i, name := range names {
			c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = dirs[name] })
		}
	}
	start()
	for _, name := range names {
		c.open(name, "bank")
		c.open(name, "idle")
	}
	ctx := context.Background()
	// 600 commits of 1 KiB: some 10 segments, the log's bound four.
	commits := 600
	if os.Getenv("OSS_LONG") != "" {
		commits = 10000
	}
	var ids []uuid.UUID
	put := func(i int) {
		t.Helper()
		id := uuid.UUID{0: 'c', 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}
		untilCommitted(t, "a put", c.heaps[c.waitLeader()], func(tx *Tx) error { return Put(tx, id, make([]byte, 1<<10)) })
		if i >= len(ids) {
			ids = append(ids, id)
		}
	}
	for i := range commits {
		if i == commits/3 || i == 2*commits/3 {
			c.moveCatalogLeader(t, names)
		}
		put(i)
	}
	// Truncation follows checkpoints, off the loops: more commits give
	// it its turn on every node.
	most := 0
	for more := 0; more < 2000; more++ {
		most = 0
		for _, name := range names {
			most = max(most, walSegments(t, dirs[name]))
		}
		if most <= 4 {
			break
		}
		put(0)
	}
	if most > 4 {
		t.Errorf("a node's log holds %d segments of %d bytes after %d commits, want at most 4", most, segment, commits)
	}
	terms := map[string]uint64{}
	for _, name := range names {
		terms[name] = c.nodes[name].catalog.Load().Stats().Term
	}
	for _, name := range names {
		c.leave(name)
	}
	for _, name := range names {
		if g := replayCatalog(t, persist.OS{}, dirs[name]); g.hard.Term < terms[name] {
			t.Errorf("%s: the catalog's logged term is %d, it stood at %d", name, g.hard.Term, terms[name])
		}
	}

	start()
	for _, name := range names {
		c.open(name, "bank")
	}
	h := c.heaps[c.waitLeader()]
	if err := h.View(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := Get[[]byte](tx, id); err != nil {
				return err
			}
		}
		return nil
	}, &ViewOptions{Fresh: true}); err != nil {
		t.Fatalf("after a restart of every node: %v", err)
	}
}

// moveCatalogLeader cuts the catalog's leader off until the other nodes
// elect one of theirs, then heals the network: a new term, and votes, in
// every catalog replica.
func (c *testCluster) moveCatalogLeader(t *testing.T, names []string) {
	t.Helper()
	leads := func(name string) bool {
		cat := c.nodes[name].catalog.Load()
		return cat.leader.Load() == cat.self
	}
	var lead string
	waitCond(t, "a catalog leader", func() bool {
		for _, name := range names {
			if leads(name) {
				lead = name
				return true
			}
		}
		return false
	})
	var rest []string
	for _, name := range names {
		if name != lead {
			rest = append(rest, name)
		}
	}
	c.net.Partition([]string{lead}, rest)
	waitCond(t, "a catalog leader apart from "+lead, func() bool { return leads(rest[0]) || leads(rest[1]) })
	c.net.Heal()
}
