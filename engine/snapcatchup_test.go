package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// pendingSnapshot returns the index of the snapshot the leader is sending
// to id, 0 if it is not sending one.
func pendingSnapshot(lead *node, id uint64) (idx uint64) {
	lead.e.Replica().WithProgress(func(pid uint64, pr tracker.Progress) {
		if pid == id && pr.State == tracker.StateSnapshot {
			idx = pr.PendingSnapshot
		}
	})
	return idx
}

// A follower being sent a snapshot needs the leader's log from the
// snapshot's index on once it has installed it. The leader keeps that
// while the commits go on (within MaxLogBytes), so the follower, its
// snapshot installed, catches up from appends instead of needing another
// snapshot. It used to compact past the snapshot as it was sent, and a
// follower under a steady load was fed nothing but snapshots.
func TestSnapshotsFollowerCatchesUpFromTheLogAfter(t *testing.T) {
	c := lagCluster(t, 1<<20)
	lead := c.node(1)
	c.cut(3)
	c.tick(25) // 3 counts as dead: the leader compacts past it
	fillLog(t, c, 8<<10)
	if first, _ := lead.st.FirstIndex(); first <= c.node(3).applied()+1 {
		t.Fatalf("leader's log starts at %d, follower applied %d: no snapshot needed", first, c.node(3).applied())
	}
	// 3 is back; its snapshot is on its way (never delivered here).
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && m.Type == raftpb.MsgSnap }
	c.tick(3)
	snap := pendingSnapshot(lead, 3)
	if snap == 0 {
		t.Fatal("the leader is not sending the follower a snapshot")
	}
	// The commits go on meanwhile, past many checkpoints' worth of log.
	fillLog(t, c, 8<<10)
	if s := pendingSnapshot(lead, 3); s != snap {
		t.Fatalf("snapshot at %d, now %d", snap, s)
	}
	if first, _ := lead.st.FirstIndex(); first > snap+1 {
		t.Fatalf("leader compacted its log to %d while sending a snapshot at %d", first, snap)
	}
	// Sent (the transport reports it): raft probes the follower from the
	// snapshot on, while the follower installs it and the commits go on.
	lead.e.ReportSnapshot(3, false)
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap) }
	fillLog(t, c, 8<<10)
	if first, _ := lead.st.FirstIndex(); first > snap+1 {
		t.Fatalf("leader compacted its log to %d while the follower installed a snapshot at %d", first, snap)
	}
	// The follower installed it and says so: the leader goes on with
	// appends from there, not with another snapshot.
	c.drop = func(m raftpb.Message) bool { return m.To == 3 }
	before := snapshotsTo(c, 3)
	term := lead.e.Replica().Status().Term
	lead.e.Step(raftpb.Message{Type: raftpb.MsgAppResp, From: 3, To: 1, Term: term, Index: snap})
	c.settle()
	if n := snapshotsTo(c, 3) - before; n != 0 {
		t.Fatalf("%d more snapshots sent to a follower that installed one", n)
	}
	appended := false
	for _, m := range c.sent {
		if m.Type == raftpb.MsgApp && m.To == 3 && m.Index == snap {
			appended = true
		}
	}
	if !appended {
		t.Fatalf("no append from the snapshot's index %d sent to the follower", snap)
	}
}
