package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// A follower the leader brings up to date only by snapshots (a restarted
// node catching up under a load that outruns it: the leader's log has
// moved past it by the time each snapshot is installed) never holds its
// own forwarded proposal as an entry: every copy it sends is appended by
// the leader, committed by the others and covered by the next snapshot.
// Its caller learns the outcome from the snapshot that covers the first
// copy. It used to wait forever, the copy proposed again every few
// seconds (found by the long Wissenheim run: a restarted node's
// scene.Create hung).
func TestProposalOfAFollowerFedOnlySnapshotsIsAnswered(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	// No append reaches 3; its proposals and answers reach the leader.
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && m.Type == raftpb.MsgApp }
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	if lead.e.Replica().State().Version(objectOf(p.TxID)) == 0 {
		t.Fatal("the leader did not commit the forwarded record")
	}
	for range 3 {
		lead.e.Propose([]Proposal{prop(t, lead.applied())})
		c.settle()
	}
	if f.n[p.TxID] != 0 || f.applied() != 0 && f.e.Replica().State().Version(objectOf(p.TxID)) != 0 {
		t.Fatalf("the follower learned of the record without a snapshot: %+v", f.out[p.TxID])
	}
	snap := snapshotOf(t, lead, f.id)
	f.e.Step(snap)
	c.handle(f)
	if f.applied() != snap.Snapshot.Metadata.Index {
		t.Fatalf("follower applied %d, want the snapshot's %d", f.applied(), snap.Snapshot.Metadata.Index)
	}
	cp := f.result(t, p)
	if cp.Err != nil || cp.Result.Outcome != consistency.Committed || cp.Result.TxID != p.TxID {
		t.Fatalf("%+v, want committed", cp)
	}
	if want, ok := lead.e.Replica().Decided(p.TxID); !ok || want.Index != cp.Result.Index {
		t.Fatalf("decided at %d, the leader decided it at %d (%v)", cp.Result.Index, want.Index, ok)
	}
	// Still fed only snapshots: no copy is proposed again, no second answer.
	c.tick(2 * DefaultResendTicks)
	f.result(t, p)
	if n := proposals(c, p, raftpb.MsgProp, 1); n != 1 {
		t.Fatalf("the record was forwarded %d times, want once", n)
	}
}
