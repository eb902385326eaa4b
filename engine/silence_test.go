package engine

import "testing"

// Silence counts the ticks since a leader last heard a follower, and
// says when a snapshot is on its way to it or being installed by it:
// the leader hears that a snapshot arrived before the follower has
// stored it, and the follower is silent while it stores it, so once the
// sending is reported the follower is probed from the snapshot on and
// still counts as installing one (the runtime excuses it for its grace
// before replacing it for its silence).
func TestSilenceSaysASnapshotIsOnItsWayOrInstalled(t *testing.T) {
	c := lagCluster(t, 1<<30)
	lead := c.node(1)
	if ticks, snap := lead.e.Silence(2); ticks > uint64(lead.e.cfg.ElectionTicks) || snap {
		t.Fatalf("a follower in reach: silent %d ticks, snapshot %v", ticks, snap)
	}
	if ticks, snap := c.node(2).e.Silence(1); ticks != 0 || snap {
		t.Fatalf("a follower's Silence of its leader: %d ticks, snapshot %v; want 0, false", ticks, snap)
	}
	snapshotOnItsWay(t, c)
	if _, snap := lead.e.Silence(3); !snap {
		t.Fatal("a follower being sent a snapshot: Silence says none is on its way")
	}
	lead.e.ReportSnapshot(3, false)
	c.cut(3)
	c.tick(5)
	ticks, snap := lead.e.Silence(3)
	if !snap {
		t.Fatal("a follower probed after the snapshot it was sent (installing it): Silence says no snapshot")
	}
	if ticks < 5 {
		t.Fatalf("a follower cut off for 5 ticks: silent %d", ticks)
	}
	if _, snap := lead.e.Silence(2); snap {
		t.Fatal("a follower in reach and caught up: Silence says a snapshot")
	}
}
