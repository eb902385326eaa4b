package oss

import (
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

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
func TestLeadersSmallWritesSyncOffThePath(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	commits := func(c *testCluster, names []string) (lead string, rise map[string]int64) {
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
		// Where placement puts the leader: it moves there once the
		// replicas have ticked engine.TransferTicks, and a move during
		// the 20 commits would split the leader's syncs between two.
		lead = placementOrder("bank", names...)[0]
		waitCond(t, "one leader of the heap for all, where placement puts it", func() bool {
			for _, name := range names {
				if c.heaps[name].Stats().Leader != lead {
					return false
				}
			}
			return true
		})
		before := map[string]int64{}
		for _, name := range names {
			before[name] = offs[name].Load()
		}
		for i := range 20 {
			untilCommitted(t, "a transfer", c.heaps[lead], func(tx *Tx) error { return transferIn(tx, ids[i%8], ids[(i+1)%8], 1) })
		}
		rise = map[string]int64{}
		for _, name := range names {
			rise[name] = offs[name].Load() - before[name]
		}
		c.checkBank(ids)
		t.Logf("leader %s, syncs off the path during 20 commits: %v", lead, rise)
		return lead, rise
	}

	t.Run("three voters", func(t *testing.T) {
		c := startTestNodes(t, 41)
		names := []string{"a", "b", "c"}
		lead, rise := commits(c, names)
		// A batch that also holds another write (the catalog's, on the
		// node's one log) syncs as any other, and under load more of them
		// meet: at load 1.5 most of the 20 go off the path, at load 38
		// nine did. Without the path none does.
		if rise[lead] == 0 {
			t.Fatalf("the leader's node synced none of 20 one-commit writes off the path")
		}
		for _, name := range names {
			if name != lead && rise[name] >= rise[lead] {
				t.Fatalf("follower %s synced %d writes off the path, as many as the leader (%d)", name, rise[name], rise[lead])
			}
		}
	})
	t.Run("one voter", func(t *testing.T) {
		c := startTestNodes(t, 42)
		_, rise := commits(c, []string{"solo"})
		if rise["solo"] != 0 {
			t.Fatalf("a lone voter synced %d writes off the path, want none: its sync is the commit", rise["solo"])
		}
	})
}
