package oss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A node of three whose write-ahead log stops while it leads the catalog
// (its wal/ removed, or a sync failed) commits nothing more, and says so
// in Status; the other two elect leaders of every group it led and go on
// committing in each, the catalog's too (a heap is created); the stopped
// node leads none of them again; and every commit acknowledged before
// the stop is read back, fresh, after it. A leader that cannot append
// and keeps its leadership would stall its groups for ever.
func TestClusterGoesOnWhenALeadersLogStops(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, c := range []struct {
		name  string
		stop  func(mem *persist.MemFS, ffs *persist.FaultFS) error
		nudge bool // commits tried on the stopped node, each heap
	}{
		{"wal removed", removeWAL, false},
		{"sync failed", func(_ *persist.MemFS, ffs *persist.FaultFS) error {
			ffs.SetRule(func(op persist.Op, name string) error {
				if op == persist.OpSync && strings.Contains(name, "/wal/") {
					return syscall.EIO
				}
				return nil
			})
			return nil
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) { leaderLogStops(t, c.stop, c.nudge) })
	}
}

// leaderLogStops stops the log of the catalog's leader in a cluster of
// three. With nudge, a commit is tried on the stopped node in every
// heap it led while its peers elect: a log that fails its syncs without
// stopping (each failure sealed, the next write tried anew) is found
// refusing by a replica only when it writes.
func leaderLogStops(t *testing.T, stop func(*persist.MemFS, *persist.FaultFS) error, nudge bool) {
	names := []string{"a", "b", "c"}
	heaps := []string{"bank", "h1", "h2"}
	c := startTestNodesWith(t, 7, func(cfg *Config) { cfg.DataDir = "/data" })
	mems := map[string]*persist.MemFS{}
	ffss := map[string]*persist.FaultFS{}
	for i, name := range names {
		mems[name] = persist.NewMemFS()
		ffss[name] = &persist.FaultFS{FS: mems[name]}
		c.fss[name] = ffss[name]
		c.add(name, i > 0, nil)
	}
	for _, name := range names {
		for _, heap := range heaps {
			c.open(name, heap)
		}
	}
	var lead string
	waitCond(t, "a catalog leader", func() bool {
		g, ok := c.group(catalogName)
		if ok {
			lead = g.Leader
		}
		return ok && lead != ""
	})
	acked := map[string][]uuid.UUID{}
	put := func(on, heap string, i int) {
		t.Helper()
		id := uuid.UUID{0: 'f', 1: heap[len(heap)-1], 14: byte(i >> 8), 15: byte(i)}
		untilCommitted(t, "a put to "+heap, c.nodes[on].replicaOf(heap), func(tx *Tx) error { return Put(tx, id, int64(i)) })
		acked[heap] = append(acked[heap], id)
	}
	led := map[string]bool{catalogName: true}
	for _, heap := range heaps {
		for i := range 20 {
			put(lead, heap, i)
		}
		if g, ok := c.group(heap); ok && g.Leader == lead {
			led[heap] = true
		}
	}
	if err := stop(mems[lead], ffss[lead]); err != nil {
		t.Fatal(err)
	}
	// The stopped node's next commit finds its log stopped.
	ctx := context.Background()
	waitCond(t, "the stopped node's log failure in its status", func() bool {
		h := c.nodes[lead].replicaOf(heaps[0])
		_ = update(ctx, h, func(tx *Tx) error { return Put(tx, uuid.UUID{0: 'x'}, int64(0)) })
		return c.nodes[lead].Status(ctx).LogFailed != "" || nudge
	})
	var rest []string
	for _, name := range names {
		if name != lead {
			rest = append(rest, name)
		}
	}
	for heap := range led {
		waitCond(t, fmt.Sprintf("a leader of %s other than %s", heap, lead), func() bool {
			if nudge {
				_ = update(ctx, c.nodes[lead].replicaOf(heap), func(tx *Tx) error { return Put(tx, uuid.UUID{0: 'x'}, int64(0)) })
			}
			for _, name := range rest {
				if h := c.nodes[name].replicaOf(heap); h != nil && h.leaderIs(h.self) {
					return true
				}
			}
			return false
		})
	}
	for _, heap := range heaps {
		put(rest[0], heap, 1000)
		for i, id := range acked[heap] {
			untilLeader(t, "a fresh read of "+heap, func(ctx context.Context) error {
				return c.nodes[rest[1]].replicaOf(heap).View(ctx, func(tx *Tx) error {
					v, err := Get[int64](tx, id)
					if err == nil && v != int64(i) && v != 1000 {
						err = fmt.Errorf("%v holds %d, want %d", id, v, i)
					}
					return err
				}, &ViewOptions{Fresh: true})
			})
		}
	}
	untilLeader(t, "a heap created after the stop", func(ctx context.Context) error {
		_, err := c.nodes[rest[0]].CreateHeapIfNotExists(ctx, "after", nil)
		return err
	})
	// The stopped node's own view may stay stale (it appends nothing,
	// not even a newer term); the group's leader at the highest term is
	// another node. (Between two of the others' elections the stale
	// view alone may claim the group: a wait, not a snapshot.)
	for heap := range led {
		waitCond(t, heap+" led at the highest term by a node other than "+lead, func() bool {
			g, ok := c.group(heap)
			return ok && g.Leader != lead
		})
	}
	if err := c.nodes[lead].Close(ctx); !nudge && !errors.Is(err, persist.ErrFailed) {
		t.Errorf("close of %s, whose log stopped: %v", lead, err)
	}
	c.forget(lead)
}

// removeWAL removes every file of a node's wal/, as rm -r does.
func removeWAL(mem *persist.MemFS, _ *persist.FaultFS) error {
	files, err := mem.ReadDir("/data/wal")
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := mem.Remove("/data/wal/" + f); err != nil {
			return err
		}
	}
	return nil
}

// A node of four whose log stops, a voter of a heap of three replicas,
// stays up, and its groups' leaders move its votes to the fourth node as
// they would a leaving node's: the heap's voters come to be three that
// can append, and it commits. Before, the stopped node kept its votes for
// as long as it stayed up, a member like any other, and the group could
// lose no other voter without stalling.
func TestStoppedLogsReplicasArePlacedElsewhere(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d"}
	c := startTestNodesWith(t, 11, func(cfg *Config) { cfg.DataDir = "/data" })
	mems := map[string]*persist.MemFS{}
	for i, name := range names {
		mems[name] = persist.NewMemFS()
		c.fss[name] = mems[name]
		c.add(name, i > 0, nil)
	}
	c.open("a", "bank")
	stopped := c.waitGroup(t, "bank").Voters[0]
	other := "b"
	if stopped != "a" {
		other = "a"
	} else {
		c.open(other, "bank")
	}
	untilCommitted(t, "a put", c.nodes[other].replicaOf("bank"), func(tx *Tx) error { return Put(tx, uuid.UUID{0: 'p'}, int64(1)) })
	if err := removeWAL(mems[stopped], nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitCond(t, stopped+"'s log failure in its status", func() bool {
		_ = update(ctx, c.nodes[stopped].replicaOf("bank"), func(tx *Tx) error { return Put(tx, uuid.UUID{0: 'x'}, int64(0)) })
		return c.nodes[stopped].Status(ctx).LogFailed != ""
	})
	waitCond(t, "bank's voters without "+stopped, func() bool {
		g, ok := c.group("bank")
		return ok && !g.Joint && len(g.Voters) == 3 && !slices.Contains(g.Voters, stopped) && g.Leader != stopped
	})
	untilCommitted(t, "a put after the move", c.nodes[other].replicaOf("bank"), func(tx *Tx) error { return Put(tx, uuid.UUID{0: 'p'}, int64(2)) })
	c.nodes[stopped].Close(ctx)
	c.forget(stopped)
}
