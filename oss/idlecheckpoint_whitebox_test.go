package oss

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/persist"
)

// A checkpoint that comes due while another runs is taken once that one
// ends, also when the heap is idle by then: a lone replica (no peers'
// messages, no Readies between commits) whose writer stopped must not
// keep its last entries in the log, and in recovery's replay, until a
// later commit. Until 2026-12-05 the engine asked for it again only at
// the next apply, and the checkpointer, busy when first asked, never
// heard of it.
func TestIdleHeapTakesItsDueCheckpoint(t *testing.T) {
	t.Parallel()
	const every = 16
	ctx := context.Background()
	c := startTestNodes(t, 5)
	mem := persist.NewMemFS()
	c.fss["solo"] = mem
	n := c.add("solo", false, func(cfg *Config) {
		cfg.DataDir = "/data/solo"
		checkpointOften(every, 4)(cfg)
	})
	h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first checkpoint to start waits for the word.
	started, release := make(chan struct{}, 1), make(chan struct{})
	onCheckpoint(h, func() {
		select {
		case started <- struct{}{}:
			<-release
		default:
		}
	})
	id := uuid.New()
	under := false
	for i := 0; !under; i++ {
		if i == 2000 {
			t.Fatalf("no checkpoint started in %d commits", i)
		}
		if err := increment(ctx, h, id); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
			under = true
		case <-time.After(time.Millisecond):
		}
	}
	// Enough entries for the next checkpoint to be due once the one under
	// way ends; the engine asks for it while that one runs.
	for range 2 * every {
		if err := increment(ctx, h, id); err != nil {
			t.Fatal(err)
		}
	}
	applied := h.Stats().Applied
	close(release)
	// No commit from now on.
	waitFor(t, "a checkpoint of every commit", func() bool {
		return checkpointIndex(t, n, "bank") >= applied
	})
	// A restart would replay none of its entries: the log's last record
	// of the heap's checkpoint covers them all.
	c.kill("solo")
	g := replayHeap(t, mem, "/data/solo", "bank")
	if g == nil {
		t.Fatal("no group of the heap in the log")
	}
	if len(g.ents) != 0 || g.snap.Metadata.Index < applied {
		t.Errorf("recovery would replay %d entries of the heap after its checkpoint at %d (applied %d)", len(g.ents), g.snap.Metadata.Index, applied)
	}
}

// checkpointIndex returns the applied index of the heap's checkpoint in
// the node's store, 0 if there is none.
func checkpointIndex(t *testing.T, n *Node, heap string) uint64 {
	t.Helper()
	spaces, err := storeSpaces(n.disk.store.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	for _, si := range spaces {
		if si.key.heap == heap {
			return si.snap.Index
		}
	}
	return 0
}
