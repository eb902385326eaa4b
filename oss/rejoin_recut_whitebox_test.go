package oss

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/transport"
)

// recutState is what recutGate does: the node it cuts (learner), whether
// that node gets the appends of heap "bank" (apps) or any of its raft
// messages (deaf), and how many requests to join "bank" it made since
// counting was set.
type recutState struct {
	learner    atomic.Value // string
	apps, deaf atomic.Bool
	counting   atomic.Bool
	asked      atomic.Int64
}

func (s *recutState) is(name string) bool {
	l, _ := s.learner.Load().(string)
	return l != "" && l == name
}

// recutGate wraps a node's handler for recutState.
type recutGate struct {
	transport.Handler
	name string
	s    *recutState
}

func (g recutGate) HandleMessage(from string, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if g.s.is(g.name) && env.decode(msg) == nil && env.Heap == "bank" && m.Unmarshal(env.Msg) == nil {
		if g.s.deaf.Load() || (g.s.apps.Load() && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap)) {
			return
		}
	}
	g.Handler.HandleMessage(from, msg)
}

func (g recutGate) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	var r callRequest
	if g.s.counting.Load() && g.s.is(from) && codec.Unmarshal(req, &r) == nil && r.Op == opJoin && r.Heap == "bank" {
		g.s.asked.Add(1)
	}
	return g.Handler.HandleCall(ctx, from, req)
}

// A replica its group removed while it was cut off counts the removal
// once (Stats.Rejoins), also when it is cut off again after a leader said
// it was not a member and took it back, but before it applied, from the
// log, the removal and its return: its second round of requests to be
// taken back hears that it is a member, and the removal it then applies
// is the one already counted. It counted it twice: each round of
// requests forgot that the last removal was counted.
func TestRemovalCountedOnceAcrossASecondCut(t *testing.T) {
	t.Parallel()
	var s recutState
	c := startTestNodes(t, 29)
	c.wrapHandler = func(name string, h transport.Handler) transport.Handler {
		return recutGate{Handler: h, name: name, s: &s}
	}
	names := []string{"a", "b", "c", "d", "e"}
	for i, name := range names {
		c.add(name, i > 0, nil)
	}
	c.followPartitions()
	ids, learner, others := c.bankWithALearner(t, names)
	s.learner.Store(learner)
	hv := c.heaps[learner]

	// The leader may take it back on a request it queued before it hears
	// its answer (rejoin.go): then no leader tells it it was removed, and
	// the test starts over once it has caught up, counting from there.
	var base, target uint64
	for attempt := 1; ; attempt++ {
		if told := c.removeAndHeal(t, &s, hv, learner, others, ids, base, &target); told {
			break
		}
		if attempt == 5 {
			t.Fatalf("%s was taken back before a leader told it of its removal %d times", learner, attempt)
		}
		t.Logf("%s was taken back before a leader told it of its removal; again", learner)
		s.apps.Store(false)
		waitCond(t, learner+" to catch up", func() bool {
			g, ok := c.group("bank")
			return ok && g.Leader != "" && hv.current() && hv.Stats().Applied >= c.heaps[g.Leader].Stats().Applied
		})
		base = hv.Stats().Rejoins
	}
	waitCond(t, learner+" to hear its leader again", func() bool { return hv.current() && !hv.contact.rejoining.Load() })
	if !hv.inConf.Load() || hv.Stats().Applied >= target {
		t.Fatalf("%s applied its removal already: the test tests nothing", learner)
	}

	// Cut off again until it asks again, then it gets the log.
	s.counting.Store(true)
	s.deaf.Store(true)
	waitCond(t, learner+" to ask again to be taken back", func() bool { return s.asked.Load() > 0 })
	s.deaf.Store(false)
	s.apps.Store(false)
	waitCond(t, learner+" to apply its removal and return", func() bool { return hv.Stats().Applied >= target })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Through the replica's loop, after the Ready that applied them.
	if err := hv.View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true}); err != nil {
		t.Fatalf("fresh view on %s: %v", learner, err)
	}
	if n := hv.Stats().Rejoins; n != base+1 {
		t.Fatalf("%s was removed once and counted %d removals; want 1", learner, n-base)
	}
}

// removeAndHeal cuts learner off until its group removes it, then heals
// the network with the appends of "bank" held from it, and waits until a
// leader has taken it back: it reports whether a leader told it it was
// removed (Rejoins moved on from base; target is then the leader's
// applied index), or took it back untold (still back and uncounted 3 s
// on).
func (c *testCluster) removeAndHeal(t *testing.T, s *recutState, hv *Heap, learner string, others []string, ids []uuid.UUID, base uint64, target *uint64) bool {
	t.Helper()
	c.net.Partition([]string{learner}, others)
	i := 0
	waitCond(t, learner+" to be removed from the bank", func() bool {
		transfer(context.Background(), c.heaps[others[i%len(others)]], ids[i%8], ids[(i+3)%8], 1)
		i++
		g, ok := c.group("bank")
		return ok && !g.Joint && !slices.Contains(g.Learners, learner) && !slices.Contains(g.Voters, learner)
	})
	if !hv.inConf.Load() {
		t.Fatalf("%s heard of its removal while cut off: the test tests nothing", learner)
	}
	// Back in reach, it asks, hears it is no member, and is taken back;
	// it hears the leader's heartbeats, not yet its appends.
	s.apps.Store(true)
	c.net.Heal()
	told := false
	var back time.Time
	waitCond(t, "a leader to tell "+learner+" it was removed and take it back", func() bool {
		g, ok := c.group("bank")
		if !ok || !slices.Contains(g.Learners, learner) {
			back = time.Time{}
			return false
		}
		if hv.Stats().Rejoins == base+1 {
			*target, told = c.heaps[g.Leader].Stats().Applied, true
			return true
		}
		if back.IsZero() {
			back = time.Now()
		}
		return time.Since(back) > 3*time.Second
	})
	return told
}
