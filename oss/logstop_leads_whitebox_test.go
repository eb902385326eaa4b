package oss

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A node whose write-ahead log stops while it leads the catalog and
// heaps leads nothing from then on, as the README says: none of its
// replicas believes it leads (oss_is_leader, Stats), none names it as
// its group's leader, and no node's status names it leading a heap
// (ossd status' LEADS column, the dashboard), while the others elect
// leaders of their own. Before, the stopped replicas kept the soft state
// raft last handed them, so a stopped leader went on saying it led,
// beside the leader the others elected, for as long as it stayed up.
func TestStoppedLogLeadsNothing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"a", "b", "c"}
	heaps := []string{"bank", "h1"}
	c := startTestNodesWith(t, 13, func(cfg *Config) { cfg.DataDir = "/data" })
	mems := map[string]*persist.MemFS{}
	for i, name := range names {
		mems[name] = persist.NewMemFS()
		c.fss[name] = mems[name]
		c.add(name, i > 0, nil)
	}
	for _, name := range names {
		for _, heap := range heaps {
			c.open(name, heap)
		}
	}
	lead := c.waitGroup(t, catalogName).Leader
	for _, heap := range heaps {
		untilCommitted(t, "a put to "+heap, c.nodes[lead].replicaOf(heap), func(tx *Tx) error {
			return Put(tx, uuid.UUID{0: 'p'}, int64(1))
		})
	}
	if err := removeWAL(mems[lead], nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stopped := c.nodes[lead]
	waitCond(t, lead+"'s log failure in its status", func() bool {
		_ = update(ctx, stopped.replicaOf(heaps[0]), func(tx *Tx) error { return Put(tx, uuid.UUID{0: 'x'}, int64(0)) })
		return stopped.Status(ctx).LogFailed != ""
	})
	var rest []string
	for _, name := range names {
		if name != lead {
			rest = append(rest, name)
		}
	}
	for _, heap := range append([]string{catalogName}, heaps...) {
		waitCond(t, "a leader of "+heap+" other than "+lead, func() bool {
			for _, name := range rest {
				if h := c.nodes[name].replicaOf(heap); h != nil && h.leaderIs(h.self) {
					return true
				}
			}
			return false
		})
		h := stopped.replicaOf(heap)
		waitCond(t, lead+"'s replica of "+heap+" to lead nothing and name no leader of its own", func() bool {
			return !h.leaderIs(h.self) && h.Stats().Leader != lead
		})
	}
	for _, on := range names {
		waitCond(t, lead+" leading no heap in "+on+"'s status", func() bool {
			ms := c.nodes[on].Status(ctx).Members
			i := slices.IndexFunc(ms, func(m Member) bool { return m.Name == lead })
			return i >= 0 && len(ms[i].Leads) == 0
		})
	}
	for _, heap := range append([]string{catalogName}, heaps...) {
		if h := stopped.replicaOf(heap); h.leaderIs(h.self) {
			t.Errorf("%s's replica of %s leads again, its log stopped", lead, heap)
		}
	}
	_ = stopped.Close(ctx)
	c.forget(lead)
}
