package engine

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// snapOnCompact takes a snapshot of the log where it is compacted, as the
// storage of package oss does, so that raft has one to send to a follower
// behind the log in memory.
type snapOnCompact struct {
	*raft.MemoryStorage
	cs raftpb.ConfState
}

func (s snapOnCompact) Compact(index uint64) error {
	if _, err := s.CreateSnapshot(index, &s.cs, nil); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
		return err
	}
	return s.MemoryStorage.Compact(index)
}

// lagCluster is three in-memory replicas with small log bounds, led by 1.
// Snapshots sent are counted in c.sent and not delivered.
func lagCluster(t *testing.T, maxLog int) *cluster {
	c := newCluster(t, 3, func(cfg *Config, rc *consistency.Config) {
		rc.ElectionTick, cfg.ElectionTicks = 10, 10
		cfg.Storage = snapOnCompact{rc.Storage.(*raft.MemoryStorage), raftpb.ConfState{Voters: []uint64{1, 2, 3}}}
		cfg.CompactEvery, cfg.KeepEntries = 16, 4
		cfg.LogBytes, cfg.KeepBytes, cfg.MaxLogBytes = 2<<10, 512, maxLog
	})
	c.elect(1)
	return c
}

// fillLog proposes on the leader until the log has grown by at least
// bytes, ticking now and then.
func fillLog(t *testing.T, c *cluster, bytes int) {
	t.Helper()
	lead := c.node(1)
	for n, k := 0, 0; n < bytes; k++ {
		p := prop(t, lead.applied())
		lead.e.Propose([]Proposal{p})
		c.settle()
		if lead.n[p.TxID] != 1 || lead.out[p.TxID].Err != nil {
			t.Fatalf("proposal not decided on the leader: %+v", lead.out[p.TxID])
		}
		n += len(p.Data)
		if k%16 == 15 {
			c.tick(1)
		}
	}
}

func snapshotsTo(c *cluster, id uint64) int {
	k := 0
	for _, m := range c.sent {
		if m.Type == raftpb.MsgSnap && m.To == id {
			k++
		}
	}
	return k
}

// A follower that hears the leader's heartbeats but has fallen behind by
// more than the tail the log keeps (its appends lost, as on a starved
// machine) catches up from the log, not from a snapshot, while it is less
// than MaxLogBytes behind; beyond that it is sent a snapshot.
func TestFollowerBehindCatchesUpFromLog(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxLog  int
		behind  int
		snapped bool
	}{
		{"within MaxLogBytes", 32 << 10, 8 << 10, false},
		{"beyond MaxLogBytes", 32 << 10, 24 << 10, true},
		{"followers hold nothing back", -1, 8 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := lagCluster(t, tc.maxLog)
			c.drop = func(m raftpb.Message) bool {
				return m.To == 3 && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap)
			}
			fillLog(t, c, tc.behind)
			lead, lag := c.node(1), c.node(3)
			if first, _ := lead.st.FirstIndex(); tc.behind > 2*(2<<10) && first > lag.applied()+1 != tc.snapped {
				t.Fatalf("leader's log starts at %d, follower applied %d", first, lag.applied())
			}
			c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgSnap }
			c.tick(3)
			if got := snapshotsTo(c, 3) > 0; got != tc.snapped {
				t.Fatalf("snapshot sent to the follower %d behind: %v, want %v", tc.behind, got, tc.snapped)
			}
			if !tc.snapped && lag.applied() != lead.applied() {
				t.Fatalf("follower applied %d, leader %d", lag.applied(), lead.applied())
			}
			if first, _ := lead.st.FirstIndex(); lead.applied()-first > 64 && !tc.snapped {
				t.Fatalf("leader keeps entries %d-%d once the follower caught up", first, lead.applied())
			}
		})
	}
}

// A follower not heard from for an election timeout holds nothing back:
// the leader's log in memory stays within its bounds.
func TestDeadFollowerDoesNotPinLog(t *testing.T) {
	c := lagCluster(t, 1<<30)
	c.cut(3)
	c.tick(25) // CheckQuorum finds 3 inactive
	lead := c.node(1)
	fillLog(t, c, 32<<10)
	if held := lead.e.held.bytes; held > 2<<10+1024 {
		t.Fatalf("leader holds %d bytes of log, bound 2 KiB", held)
	}
	if first, _ := lead.st.FirstIndex(); first <= c.node(3).applied()+1 {
		t.Fatalf("leader's log starts at %d, the dead follower applied %d", first, c.node(3).applied())
	}
}
