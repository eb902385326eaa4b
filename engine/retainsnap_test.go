package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
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

// A follower being sent a snapshot that falls silent for longer than an
// election timeout, as one installing a large snapshot on a slow disk
// does, still holds back the log after the snapshot; once silent for
// SnapshotGraceTicks, it holds nothing back and the leader's log stays
// within its bounds. Before the grace, a follower whose install outlasted
// an election timeout counted as dead, the leader compacted past the
// snapshot, and the follower needed another.
func TestSilentFollowerBeingSentASnapshotPinsForItsGrace(t *testing.T) {
	c := lagCluster(t, 1<<30)
	lead := c.node(1)
	snap := snapshotOnItsWay(t, c)
	c.cut(3)
	silentPinsForItsGrace(t, c, snap, func() {
		if s := pendingSnapshot(lead, 3); s != snap {
			t.Fatalf("snapshot at %d, now %d: not the case under test", snap, s)
		}
	})
}

// The same once the snapshot is reported sent: the leader probes the
// follower from the snapshot on while it installs it, silent.
func TestSilentFollowerProbedAfterASnapshotPinsForItsGrace(t *testing.T) {
	c := lagCluster(t, 1<<30)
	lead := c.node(1)
	snap := snapshotOnItsWay(t, c)
	lead.e.ReportSnapshot(3, false)
	c.cut(3)
	silentPinsForItsGrace(t, c, snap, func() {
		lead.e.Replica().WithProgress(func(id uint64, pr tracker.Progress) {
			if id == 3 && (pr.State != tracker.StateProbe || pr.Next != snap+1) {
				t.Fatalf("follower in %v, next %d: not probed after the snapshot at %d", pr.State, pr.Next, snap)
			}
		})
	})
}

// silentPinsForItsGrace checks, with follower 3 silent from now on, that
// the leader's log keeps what follows snap for SnapshotGraceTicks, and
// after them compacts past it. underTest checks the follower's progress
// is still the case under test.
func silentPinsForItsGrace(t *testing.T, c *cluster, snap uint64, underTest func()) {
	t.Helper()
	lead := c.node(1)
	heard := lead.e.heardFrom[3]
	c.tick(3 * int(lead.e.cfg.ElectionTicks))
	underTest()
	fillLog(t, c, 8<<10)
	if first, _ := lead.st.FirstIndex(); first > snap+1 {
		t.Fatalf("leader compacted its log to %d, past the snapshot at %d, with the follower silent for %d ticks of its grace of %d",
			first, snap, lead.e.ticks-heard, lead.e.cfg.SnapshotGraceTicks)
	}
	c.tick(int(heard + lead.e.cfg.SnapshotGraceTicks - lead.e.ticks + 2))
	underTest()
	fillLog(t, c, 32<<10)
	if held := lead.e.held.bytes; held > 2<<10+1024 {
		t.Fatalf("leader holds %d bytes of log past the grace, bound 2 KiB", held)
	}
	if first, _ := lead.st.FirstIndex(); first <= snap+1 {
		t.Fatalf("leader's log starts at %d, before the snapshot at %d sent to a follower silent past its grace", first, snap)
	}
}
