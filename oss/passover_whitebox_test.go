package oss

import (
	"sync/atomic"
	"testing"

	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3/raftpb"
)

// entryLoss drops, while on, the appends and snapshots of heap "bank"
// that reach the node it wraps: the node answers its leader's heartbeats
// but takes no entry, as one whose disk is stuck or whose link loses
// every large message does.
type entryLoss struct {
	transport.Handler
	on *atomic.Bool
}

func (h entryLoss) HandleMessage(from string, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if h.on.Load() && env.decode(msg) == nil && env.Heap == "bank" && m.Unmarshal(env.Msg) == nil &&
		(m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap) {
		return
	}
	h.Handler.HandleMessage(from, msg)
}

// TestReplacementItsLeaderCannotReachIsPassedOver: a voter cut off from
// its leader alone is replaced, and the server placed first to take its
// place cannot catch up either: the leader's link to it is cut too, or
// it answers heartbeats but every entry sent to it is lost. The leader
// passes it over once it has made no progress for ReplaceAfter and the
// next server takes the place, so the group is back at three voters
// while the links are still cut; after the heal every replica of the
// group holds the bank's total. Before, a replacement that answered
// heartbeats stayed the one caught up for as long as its link was bad
// (one the leader heard nothing from was passed over at once, before it
// could have answered, by an accident of how its silence was timed).
func TestReplacementItsLeaderCannotReachIsPassedOver(t *testing.T) {
	for _, tc := range []struct {
		name string
		seed uint64
		cut  bool // the leader's link to the replacement cut; otherwise entries to it lost
	}{
		{"link cut", 35, true},
		{"entries lost", 36, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			passedOver(t, tc.seed, tc.cut)
		})
	}
}

func passedOver(t *testing.T, seed uint64, cut bool) {
	names := []string{"a", "b", "c", "d", "e"}
	c := startTestNodesWith(t, seed, nil)
	loss := map[string]*atomic.Bool{}
	for _, name := range names {
		loss[name] = new(atomic.Bool)
	}
	c.wrapHandler = func(name string, h transport.Handler) transport.Handler { return entryLoss{h, loss[name]} }
	for i, name := range names {
		c.add(name, i > 0, nil)
	}
	order := c.placement("bank", 5)
	placed := order[:3]
	for _, name := range placed {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters and leader at their placement", func() bool {
		g, ok := c.group("bank")
		return c.settled("bank", placed...) && ok && g.Leader == placed[0]
	})
	ids := seedBank(t, c.heaps[placed[0]])
	leader, victim, first, next := placed[0], placed[1], order[3], order[4]
	c.net.Cut([2]string{leader, victim})
	if cut {
		c.net.Cut([2]string{leader, first})
	} else {
		loss[first].Store(true)
	}
	done := c.transfers(ids, make(chan struct{}))
	want := []string{leader, placed[2], next}
	waitCond(t, victim+" replaced by "+next+", "+first+" passed over", func() bool { return c.settled("bank", want...) })
	c.net.Heal()
	loss[first].Store(false)
	// The servers that stood in, which no application uses, are removed
	// once the group is back at full strength.
	waitCond(t, "bank's voters back at their placement, no learner left", func() bool {
		g, ok := c.group("bank")
		return c.settled("bank", placed...) && ok && len(g.Learners) == 0
	})
	if n := done(); n == 0 {
		t.Fatal("no transfer committed")
	}
	c.checkBank(ids)
}
