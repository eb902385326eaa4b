package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// snapshotOnItsWay makes the leader of a lagCluster start sending 3 a
// snapshot, never delivered, and returns its index.
func snapshotOnItsWay(t *testing.T, c *cluster) uint64 {
	t.Helper()
	lead := c.node(1)
	c.cut(3)
	c.tick(25) // 3 counts as dead: the leader compacts past it
	fillLog(t, c, 8<<10)
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && m.Type == raftpb.MsgSnap }
	c.tick(3)
	snap := pendingSnapshot(lead, 3)
	if snap == 0 {
		t.Fatal("the leader is not sending the follower a snapshot")
	}
	return snap
}

// A snapshot whose sending is never reported (the follower answers the
// leader's heartbeats all along) holds the leader's log back no further
// than MaxLogBytes: beyond it, the log is compacted past the snapshot, as
// for any follower that far behind.
func TestSnapshotNeverReportedPinsAtMostMaxLogBytes(t *testing.T) {
	const maxLog = 16 << 10
	c := lagCluster(t, maxLog)
	lead := c.node(1)
	snap := snapshotOnItsWay(t, c)
	fillLog(t, c, 2<<10)
	if first, _ := lead.st.FirstIndex(); first > snap+1 {
		t.Fatalf("leader compacted its log to %d while sending a snapshot at %d, within MaxLogBytes", first, snap)
	}
	for range 8 {
		fillLog(t, c, 8<<10)
		if held := lead.e.held.bytes + len(lead.e.held.ents)*entryOverhead; held > maxLog+2<<10 {
			t.Fatalf("leader holds %d bytes of log, MaxLogBytes %d", held, maxLog)
		}
	}
	if first, _ := lead.st.FirstIndex(); first <= snap+1 {
		t.Fatalf("leader's log still starts at %d, after the snapshot at %d it sends, %d bytes later", first, snap, 64<<10)
	}
	if heard := lead.e.heardFrom[3]; lead.e.ticks-heard > lead.e.cfg.ElectionTicks {
		t.Fatalf("the follower was last heard at tick %d, now %d: not the case under test", heard, lead.e.ticks)
	}
}

// A follower being sent a snapshot that falls silent for an election
// timeout holds nothing back: the leader's log stays within its bounds.
func TestSilentFollowerBeingSentASnapshotPinsNothing(t *testing.T) {
	c := lagCluster(t, 1<<30)
	lead := c.node(1)
	snap := snapshotOnItsWay(t, c)
	c.cut(3)
	c.tick(int(lead.e.cfg.ElectionTicks) + 2)
	if s := pendingSnapshot(lead, 3); s != snap {
		t.Fatalf("snapshot at %d, now %d: not the case under test", snap, s)
	}
	fillLog(t, c, 32<<10)
	if held := lead.e.held.bytes; held > 2<<10+1024 {
		t.Fatalf("leader holds %d bytes of log, bound 2 KiB", held)
	}
	if first, _ := lead.st.FirstIndex(); first <= snap+1 {
		t.Fatalf("leader's log starts at %d, before the snapshot at %d sent to a silent follower", first, snap)
	}
}
