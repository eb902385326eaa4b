package oss_test

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
	"github.com/objectsharing/oss/persist"
)

// A node that was down while its peers checkpointed past what it holds
// needs a snapshot, streamed from the leader's striped store; one stripe
// of every other node cannot be read (EIO on every open in it) when it
// comes back. Commits go on, and once the stripes can be read again the
// node catches up and holds every acknowledged commit.
func TestProbeSnapshotFromAnUnreadableStripe(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	var refused atomic.Int64 // opens failed
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Configure: func(name string, cfg *oss.Config) {
		s1 := filepath.Join(cfg.DataDir, "s1")
		cfg.StripeDirs = []string{filepath.Join(cfg.DataDir, "s0"), s1, filepath.Join(cfg.DataDir, "s2")}
		cfg.CheckpointEvery, cfg.KeepEntries = 16, 4
		ffs := &persist.FaultFS{FS: persist.OS{}}
		if name != "n3" {
			ffs.SetRule(func(op persist.Op, path string) error {
				if broken.Load() && op == persist.OpOpen && strings.HasPrefix(path, s1+"/") {
					refused.Add(1)
					return syscall.EIO
				}
				return nil
			})
		}
		cfg.FS = ffs
	}})
	hs := map[string]*oss.Heap{}
	for _, n := range []string{"n1", "n2", "n3"} {
		hs[n] = c.Heap(n, "bank")
	}
	c.WaitConverged("bank")
	want := map[uuid.UUID]int64{}
	commit := func(h *oss.Heap, n int) {
		t.Helper()
		for range n {
			id := uuid.New()
			v := int64(len(want) + 1)
			c.Wait("a commit", func() bool { return put(h, id, v) == nil })
			want[id] = v
		}
	}
	commit(hs["n1"], 20)
	at := c.WaitConverged("bank")
	c.Kill("n3")
	commit(hs["n1"], 200)
	// A leader keeps the log a follower it heard from within an election
	// timeout needs: 200 commits can take less than that, and n3 then
	// caught up from the log, read no stripe, and the wait below never
	// ended (on an idle machine). n3 needs a snapshot once every replica
	// that may lead has compacted past what it holds.
	c.Wait("n1 and n2 to compact their logs past n3's", func() bool {
		commit(hs["n1"], 1)
		return oss.LogFirstIndexForTest(hs["n1"]) > at+8 && oss.LogFirstIndexForTest(hs["n2"]) > at+8
	})
	broken.Store(true)
	c.Restart("n3")
	c.Wait("a read of the unreadable stripe", func() bool { commit(hs["n1"], 1); return refused.Load() > 0 })
	commit(hs["n1"], 20)
	broken.Store(false)
	commit(hs["n1"], 20)
	c.WaitConverged("bank")
	h3 := c.Heap("n3", "bank")
	t.Logf("%d opens refused", refused.Load())
	for id, v := range want {
		if got := balance(t, h3, id); got != v {
			t.Fatalf("n3 holds %d for %v, want %d", got, id, v)
		}
	}
}
