package oss

import (
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// offPathFS is an in-memory FS whose files can sync off the path, and
// count those syncs.
type offPathFS struct {
	persist.FS
	off *atomic.Int64
}

type offPathFile struct {
	persist.File
	off *atomic.Int64
}

func (f offPathFile) SyncOffPath() error {
	f.off.Add(1)
	return f.File.Sync()
}

func (f offPathFS) wrap(file persist.File, err error) (persist.File, error) {
	if err != nil {
		return nil, err
	}
	return offPathFile{file, f.off}, nil
}

func (f offPathFS) Create(name string) (persist.File, error)    { return f.wrap(f.FS.Create(name)) }
func (f offPathFS) OpenWrite(name string) (persist.File, error) { return f.wrap(f.FS.OpenWrite(name)) }
func (f offPathFS) OpenAppend(name string) (persist.File, error) {
	return f.wrap(f.FS.OpenAppend(name))
}

// A leader's log writes of one commit at a time, in a group of three
// voters, sync off the path (its followers' acknowledgements commit them
// as soon); its followers' never do, and neither does a lone voter's,
// whose own sync is the commit.
//
// The counts are a node's, whose one log holds all its heaps' writes:
// the catalog's leader syncs its own small writes off the path too, and
// on a loaded machine leaders change (at load 38 a follower of the bank
// synced 11 writes off the path, its leader 9). So the test counts over
// windows of 20 commits in which no heap changed its leader or term, as
// every replica sees it, and asks of each such window that a node that
// led no heap synced nothing off the path; and of all of them, that the
// bank's leader synced some off the path. Windows in which a leader
// changed are run again, until await.Deadline.
func TestLeadersSmallWritesSyncOffThePath(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	t.Run("three voters", func(t *testing.T) {
		c := startTestNodes(t, 41)
		names := []string{"a", "b", "c"}
		offs, ids := offPathBank(t, c, names)
		deadline := time.Now().Add(await.Deadline)
		var leaderOff int64
		checked := 0
		for checked == 0 || leaderOff == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("after %d windows of 20 commits without a change of leader, the bank's leader synced %d of its one-commit writes off the path", checked, leaderOff)
			}
			// One commit, seen by all, first: a write of a leader
			// before the last (in flight as the window begins) is
			// then behind every node.
			v0 := leadersNow(c, names)
			untilCommitted(t, "a transfer", c.heaps[names[0]], func(tx *Tx) error { return transferIn(tx, ids[0], ids[1], 1) })
			c.checkBank(ids)
			v1 := leadersNow(c, names)
			rise := offPathCommits(t, c, names, offs, ids)
			v2 := leadersNow(c, names)
			leaders, steady := v1.steady(v0, v2)
			if !steady {
				t.Logf("a leader changed during the window (%v, then %v, then %v); again", v0, v1, v2)
				continue
			}
			checked++
			leaderOff += rise[v1["a/bank"].leader]
			for _, name := range names {
				if !leaders[name] && rise[name] != 0 {
					t.Fatalf("%s, which led no heap (%v), synced %d writes off the path during 20 commits", name, v1, rise[name])
				}
			}
		}
	})
	t.Run("one voter", func(t *testing.T) {
		c := startTestNodes(t, 42)
		offs, ids := offPathBank(t, c, []string{"solo"})
		if rise := offPathCommits(t, c, []string{"solo"}, offs, ids); rise["solo"] != 0 {
			t.Fatalf("a lone voter synced %d writes off the path, want none: its sync is the commit", rise["solo"])
		}
	})
}

// offPathBank starts the nodes names on file systems that count their
// syncs off the path, opens the heap "bank" on all, seeds it, and waits
// until its leader is where placement puts it: it moves there once the
// replicas have ticked engine.TransferTicks.
func offPathBank(t *testing.T, c *testCluster, names []string) (map[string]*atomic.Int64, []uuid.UUID) {
	t.Helper()
	offs := map[string]*atomic.Int64{}
	for i, name := range names {
		offs[name] = new(atomic.Int64)
		c.fss[name] = offPathFS{persist.NewMemFS(), offs[name]}
		c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	for _, name := range names {
		c.open(name, "bank")
	}
	ids := seedBank(t, c.heaps[names[0]])
	lead := placementOrder("bank", names...)[0]
	waitCond(t, "one leader of the heap for all, where placement puts it", func() bool {
		for _, name := range names {
			if c.heaps[name].Stats().Leader != lead {
				return false
			}
		}
		return true
	})
	return offs, ids
}

// offPathCommits commits 20 transfers through the bank's leader, waits
// until every replica has them, and returns by node how many syncs off
// the path each made meanwhile.
func offPathCommits(t *testing.T, c *testCluster, names []string, offs map[string]*atomic.Int64, ids []uuid.UUID) map[string]int64 {
	t.Helper()
	before := map[string]int64{}
	for _, name := range names {
		before[name] = offs[name].Load()
	}
	for i := range 20 {
		lead := c.heaps[names[0]].Stats().Leader
		h := c.heaps[lead]
		if h == nil {
			h = c.heaps[names[0]] // between leaders: its update finds the next
		}
		untilCommitted(t, "a transfer", h, func(tx *Tx) error { return transferIn(tx, ids[i%8], ids[(i+1)%8], 1) })
	}
	c.checkBank(ids)
	rise := map[string]int64{}
	for _, name := range names {
		rise[name] = offs[name].Load() - before[name]
	}
	t.Logf("syncs off the path during 20 commits: %v", rise)
	return rise
}

// groupView is a replica's leader and term.
type groupView struct {
	leader string
	term   uint64
}

// leadersView is, by "node/heap", the group as that replica sees it.
type leadersView map[string]groupView

// leadersNow returns the view of every replica of the nodes names: of
// the bank and of the catalog.
func leadersNow(c *testCluster, names []string) leadersView {
	v := leadersView{}
	for _, name := range names {
		for _, heap := range []string{"bank", catalogName} {
			if s, _, ok := c.nodes[name].ReplicaStats(heap); ok {
				v[name+"/"+heap] = groupView{s.Leader, s.Term}
			}
		}
	}
	return v
}

// steady reports whether v, taken between before and after, is the same
// as both, with one leader for each heap whose replicas all agree on it;
// and returns the nodes that lead a heap.
func (v leadersView) steady(before, after leadersView) (map[string]bool, bool) {
	if !maps.Equal(v, before) || !maps.Equal(v, after) {
		return nil, false
	}
	byHeap := map[string]groupView{}
	leaders := map[string]bool{}
	for key, g := range v {
		_, heap, _ := strings.Cut(key, "/")
		if prev, ok := byHeap[heap]; g.leader == "" || ok && prev != g {
			return nil, false
		}
		byHeap[heap] = g
		leaders[g.leader] = true
	}
	return leaders, true
}
