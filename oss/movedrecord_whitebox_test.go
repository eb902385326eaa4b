package oss

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A node's record in the catalog keeps the address it advertised when it
// registered; a node restarted on its data directory at another address
// does not register again, so the record keeps the old one. The catalog's
// leader told a second node of a live name from that node restarted
// without its data (a join from the address the live one runs at: try
// again) by the record's address: a node moved once, then restarted empty
// where it ran, was refused for good ("a node named "b" is already live
// … at" its old address) and ossd exited 1 (TestOssdImmediateRestarts,
// oss/ossdtest). The address is now the one membership shows the live
// node at.
func TestJoinFromALiveNodesCurrentAddressIsNotFinal(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := c.nodes["b"]
	var leader *Node
	findLeader := func() {
		waitFor(t, "a leader of the catalog that has b's record", func() bool {
			for _, n := range c.nodes {
				if h := n.catalog.Load(); h != nil && h.leaderIs(n.id) {
					if rec, ok := n.committed().recs["b"]; ok && rec.ID == b.id {
						leader = n
						return true
					}
				}
			}
			return false
		})
	}
	// b as it would be after a restart elsewhere on its data directory:
	// its record names where it registered, membership where it runs.
	// Only the catalog's leader writes a node record: one written as the
	// lead moved (to its placement, say) is refused by the new leader,
	// and written again through it. One that found no leader in reach
	// (the leader stepped down: at 20 ms ticks under the race detector at
	// load 30) is written again too, whether or not it committed: the
	// record written is the same.
	stale := "127.0.0.1:9"
	for {
		findLeader()
		err := leader.catalog.Load().Update(ctx, func(tx *Tx) error {
			return Put(tx, nodeRecordID("b"), nodeRecord{Name: "b", ID: b.id, Addr: stale})
		})
		if err == nil {
			break
		}
		if !errors.Is(err, ErrPermission) && !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrCommitUnknown) {
			t.Fatal(err)
		}
		t.Logf("the write of b's record through %s: %v", leader.cfg.Name, err)
	}
	waitFor(t, "the stale record applied", func() bool { return leader.committed().recs["b"].Addr == stale })
	final, err := leader.admitJoin(ctx, leader.catalog.Load(), "b", &callRequest{Op: opJoin, Heap: catalogName, ID: b.id + 1, Addr: b.Addr()})
	if err == nil {
		t.Fatal("a join of b under a new raft ID while b is live was taken")
	}
	if final || errors.Is(err, ErrJoinRefused) {
		t.Fatalf("a join from the address the live b runs at was refused for good (%v): it may be b restarted without its data", err)
	}
	// The leader pings b where membership lists it: under load that
	// ping can go unanswered in time, and the join is told to try again
	// (unansweredInTime).
	final, err = admitJoinAnswered(t, ctx, leader, "b", &callRequest{Op: opJoin, Heap: catalogName, ID: b.id + 1, Addr: stale})
	if !final || !errors.Is(err, ErrJoinRefused) {
		t.Fatalf("a join from an address b does not run at: final %v, %v; want refused for good", final, err)
	}
}
