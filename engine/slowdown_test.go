package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/cryptotest"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// slowNet wires a cluster's engines through a network that holds each
// message for a number of ticks drawn from a seeded generator (delay),
// or drops it (drop), as a starved loop or a queueing network would.
type slowNet struct {
	c     *cluster
	rng   *rand.Rand
	now   uint64
	seq   uint64
	held  []heldMsg
	delay func() uint64 // nil: within the tick
	drop  func(raftpb.Message) bool
}

// heldMsg is a message the network holds until tick due.
type heldMsg struct {
	due, seq uint64
	m        raftpb.Message
}

// newSlowNet bootstraps three voters with raft's elections on, an
// election timeout of DefaultElectionTicks, and asynchronous log writes,
// as package oss runs them; raft's timeouts are drawn from seed.
func newSlowNet(t *testing.T, seed uint64, fixed bool) *slowNet {
	cryptotest.SetGlobalRandom(t, seed)
	c := newCluster(t, 3, func(cfg *Config, rc *consistency.Config) {
		rc.ElectionTick, rc.AsyncStorageWrites = DefaultElectionTicks, true
		cfg.ElectionTicks, cfg.FixedElectionClock = DefaultElectionTicks, fixed
	})
	return &slowNet{c: c, rng: rand.New(rand.NewPCG(seed, 0x510e))}
}

// holdFor makes the network hold every message lo to hi ticks.
func (s *slowNet) holdFor(lo, hi uint64) {
	s.delay = func() uint64 { return lo + s.rng.Uint64N(hi-lo+1) }
}

// tick ticks every node once, then carries out their Readies and
// delivers the messages due, until none is.
func (s *slowNet) tick() {
	s.now++
	for _, n := range s.c.nodes {
		n.e.Tick()
	}
	for range 10000 {
		for _, n := range s.c.nodes {
			s.c.handle(n)
		}
		for _, m := range s.c.msgs {
			if s.drop != nil && s.drop(m) {
				continue
			}
			var d uint64
			if s.delay != nil {
				d = s.delay()
			}
			s.seq++
			s.held = append(s.held, heldMsg{due: s.now + d, seq: s.seq, m: m})
		}
		s.c.msgs = nil
		var due []heldMsg
		s.held = slices.DeleteFunc(s.held, func(h heldMsg) bool {
			if h.due <= s.now {
				due = append(due, h)
				return true
			}
			return false
		})
		if len(due) == 0 {
			return
		}
		for _, h := range due {
			s.c.node(h.m.To).e.Step(h.m)
		}
	}
	s.c.t.Fatal("the network does not settle")
}

// leader returns the node that leads and its term, if one does and no
// node has a higher term.
func (s *slowNet) leader() (id, term uint64) {
	for _, n := range s.c.nodes {
		st := n.e.Replica().Status()
		if st.RaftState == raft.StateLeader && st.Term > term {
			id, term = n.id, st.Term
		}
	}
	for _, n := range s.c.nodes {
		if n.e.Replica().Status().Term > term {
			return 0, 0
		}
	}
	return id, term
}

// followed returns leader's answer if every node follows that leader.
func (s *slowNet) followed() (id, term uint64) {
	id, term = s.leader()
	for _, n := range s.c.nodes {
		if n.e.Replica().Status().Lead != id {
			return 0, 0
		}
	}
	return id, term
}

// factors returns every node's election clock factor.
func (s *slowNet) factors() []uint64 {
	var out []uint64
	for _, n := range s.c.nodes {
		f, _ := n.e.ElectionSlowdown()
		out = append(out, f)
	}
	return out
}

// states describes every node's raft state and clock, for failure messages.
func (s *slowNet) states() string {
	var out string
	for _, n := range s.c.nodes {
		st := n.e.Replica().Status()
		f, k := n.e.ElectionSlowdown()
		out += fmt.Sprintf(" [%d: %v term %d lead %d factor %d slowed %d]", n.id, st.RaftState, st.Term, st.Lead, f, k)
	}
	return out
}

// The network holds every message 1 to 1.5 election timeouts, so every
// answer to a vote comes after the candidate's timeout (at most two
// election timeouts less a tick): with raft's clock fixed, no leader is
// ever elected. With the election clock, the late answers slow it, a
// leader is elected and keeps the lead for as long as the delay holds,
// and once it ends every node's clock is back to raft's ticks within
// the halvings' steady spells.
func TestElectionsHoldWhenAnswersComeLate(t *testing.T) {
	const (
		lo, hi   = DefaultElectionTicks, DefaultElectionTicks * 3 / 2
		patience = 200 * DefaultElectionTicks // generous: a few elections take tens of timeouts
		held     = 100 * DefaultElectionTicks
		// back: the halvings from maxSlowdown, each after steadyElections
		// election timeouts of its clock, and the messages still held.
		back = steadyElections*DefaultElectionTicks*2*maxSlowdown + hi
	)
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			fixed := newSlowNet(t, seed, true)
			fixed.holdFor(lo, hi)
			for range patience {
				fixed.tick()
				if id, _ := fixed.leader(); id != 0 {
					t.Fatalf("seed %d: node %d leads with raft's clock fixed: the delay breaks no election, and the test tests nothing:%s", seed, id, fixed.states())
				}
			}

			s := newSlowNet(t, seed, false)
			s.holdFor(lo, hi)
			var lead, term uint64
			for i := 0; lead == 0; i++ {
				if i == patience {
					t.Fatalf("seed %d: no leader every node follows within %d ticks:%s", seed, patience, s.states())
				}
				s.tick()
				lead, term = s.followed()
			}
			if slices.Max(s.factors()) == 1 {
				t.Fatalf("seed %d: a leader, no clock slowed: the test tests nothing:%s", seed, s.states())
			}
			t.Logf("seed %d: node %d leads at term %d at tick %d, factors %v", seed, lead, term, s.now, s.factors())
			for range held {
				s.tick()
				if id, at := s.leader(); id != lead || at != term {
					t.Fatalf("seed %d: tick %d: the lead of node %d at term %d was lost while the delay held:%s", seed, s.now, lead, term, s.states())
				}
			}
			s.delay = nil
			for i := 0; slices.Max(s.factors()) > 1; i++ {
				if i == back {
					t.Fatalf("seed %d: clocks still slowed %d ticks after the delay ended:%s", seed, back, s.states())
				}
				s.tick()
			}
			if id, at := s.leader(); id != lead || at != term {
				t.Fatalf("seed %d: the lead of node %d at term %d was lost:%s", seed, lead, term, s.states())
			}
		})
	}
}

// Nodes cut off from each other campaign alone for a long time, with no
// answer at all: no clock slows, and once the network heals a leader is
// elected within an election's usual time. So for a leader cut off
// alone: it steps down and campaigns alone while the others elect
// another, and follows it once healed, no clock slowed.
func TestCampaignsWithoutAnswersDoNotSlowTheClock(t *testing.T) {
	const (
		cut = 500 * DefaultElectionTicks
		// usual: the first timeout (under two election timeouts), a
		// pre-vote and a vote answered at once; once more if the votes
		// split.
		usual = 4 * DefaultElectionTicks
	)
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			s := newSlowNet(t, seed, false)
			s.drop = func(raftpb.Message) bool { return true }
			for range cut {
				s.tick()
			}
			if id, _ := s.leader(); id != 0 {
				t.Fatalf("seed %d: node %d leads alone:%s", seed, id, s.states())
			}
			s.slowedNot(t, seed, "cut off from each other")
			s.drop = nil
			var lead uint64
			for i := 0; lead == 0; i++ {
				if i == usual {
					t.Fatalf("seed %d: no leader within %d ticks of the heal:%s", seed, usual, s.states())
				}
				s.tick()
				lead, _ = s.leader()
			}

			s.drop = partition(lead)
			for range cut {
				s.tick()
			}
			s.drop = nil
			for range usual {
				s.tick()
			}
			for _, n := range s.c.nodes {
				if st := n.e.Replica().Status(); st.Lead == 0 || st.RaftState == raft.StatePreCandidate || st.RaftState == raft.StateCandidate {
					t.Fatalf("seed %d: node %d follows no leader %d ticks after the heal:%s", seed, n.id, usual, s.states())
				}
			}
			s.slowedNot(t, seed, fmt.Sprintf("node %d cut off alone", lead))
		})
	}
}

// slowedNot fails the test if any node's election clock was ever slowed.
func (s *slowNet) slowedNot(t *testing.T, seed uint64, what string) {
	t.Helper()
	for _, n := range s.c.nodes {
		if f, k := n.e.ElectionSlowdown(); f != 1 || k != 0 {
			t.Fatalf("seed %d: %s: node %d's clock slowed:%s", seed, what, n.id, s.states())
		}
	}
}
