package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/objectsharing/oss/internal/testkit/check"
)

// netEvent is a step of a scheduled network fault: at its time the nodes
// in cut are cut off from the rest, or, with cut nil, the network heals.
type netEvent struct {
	at  time.Duration
	cut []string
}

// hardPartition schedules one of the network faults Options.HardPartitions
// adds, unless one is on: the same node cut off again and again, each
// time about ReplaceAfter or longer, with short heals between; two nodes
// cut off at once (a heap with two of its three voters among them loses
// its majority); partitions of any shape flapping every 100 to 400 ms; or
// one or two nodes cut off for four to eight seconds and healed late.
func (s *sim) hardPartition(names []string) {
	if s.healAt != 0 || len(names) < 3 {
		return
	}
	at := s.now
	cut := func(c []string, ms int) {
		s.netPlan = append(s.netPlan, netEvent{at: at, cut: slices.Clone(c)})
		at += time.Duration(ms) * time.Millisecond
	}
	heal := func(ms int) {
		s.netPlan = append(s.netPlan, netEvent{at: at})
		at += time.Duration(ms) * time.Millisecond
	}
	switch s.rng.IntN(4) {
	case 0:
		for range 3 + s.rng.IntN(4) {
			cut(names[:1], 300+s.rng.IntN(1200))
			heal(50 + s.rng.IntN(250))
		}
		s.faults["repeated isolation"]++
	case 1:
		cut(names[:2], 1000+s.rng.IntN(2000))
		s.faults["two cut off"]++
	case 2:
		for range 5 + s.rng.IntN(10) {
			s.rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
			cut(names[:1+s.rng.IntN(len(names)-1)], 100+s.rng.IntN(300))
			heal(100 + s.rng.IntN(300))
		}
		s.faults["flapping"]++
	case 3:
		cut(names[:1+s.rng.IntN(2)], 4000+s.rng.IntN(4000))
		s.faults["long cut, healed late"]++
	}
	s.healAt = at
}

// netSchedule carries out the scheduled network events that are due.
func (s *sim) netSchedule() {
	for len(s.netPlan) > 0 && s.now >= s.netPlan[0].at {
		e := s.netPlan[0]
		s.netPlan = s.netPlan[1:]
		if e.cut == nil {
			s.net.Heal()
			continue
		}
		s.net.Partition(e.cut)
	}
}

// live reports whether the reconciler of a group led from leader counts n
// as a live server: n is up and, with Options.FollowPartitions, reachable
// from leader, as membership that follows the network sees it.
func (s *sim) live(n, leader *node) bool {
	return n.up && (!s.opts.FollowPartitions || s.net.Reachable(n.name, leader.name))
}

// underReplicated reports the heaps of the final catalog whose leader's
// configuration has fewer voters than the heap wants (or than there are
// nodes): after the faults and a quiet period, every heap is back at its
// replication factor. Learners may be left: in oss a node asks for a
// learner placement does not want to go (PlanInput.Unused), the
// simulation's nodes never do.
func (s *sim) underReplicated(groups []*group) []check.Anomaly {
	var bad []check.Anomaly
	for _, g := range groups {
		_, l := s.leader(g)
		if l == nil {
			continue // unconverged reports it
		}
		cs := l.r.ConfState()
		if want := min(g.replicas, len(s.nodes)); len(cs.Voters) < want {
			bad = append(bad, check.Anomaly{Kind: "under-replicated",
				Explain: fmt.Sprintf("heap %s (group %x): voters %v, learners %v after the quiet period; it wants %d voters", g.heap, g.id, cs.Voters, cs.Learners, want)})
		}
	}
	return bad
}
