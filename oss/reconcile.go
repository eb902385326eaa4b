package oss

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

const (
	// reconcileTicks is how often a leader reconciles its group.
	reconcileTicks = 5
	// confTicks is how long a leader waits for a proposed configuration
	// change (or leadership transfer) before it reconsiders.
	confTicks = 30
	// transferTicks spaces out leadership transfers for balance.
	transferTicks = 50
	// caughtUpSlack is how many entries a learner may trail the commit
	// index by and still be promoted.
	caughtUpSlack = 64
)

// requestJoin queues a node's request to become a learner of the group. It
// is called by the call handler; the loop acts on it.
func (h *Heap) requestJoin(id uint64) bool {
	select {
	case h.joinc <- id:
		return true
	default:
		return false
	}
}

// reconcile is the leader's replica management, one step per call: add
// learners that asked to join; hand leadership over if this node leaves;
// replace a voter that is down (dead for ReplaceAfter, or leaving) by the
// best-placed live server, as a learner first, promoted once caught up, in
// one joint-consensus change with the removal; move voters to their
// rendezvous places when all voters are alive (the moved voter stays a
// learner, with its replica); remove learners that are down; and move leadership to the best-placed voter. A configuration never
// loses a voter without gaining one, except a leaving voter whose peers are
// all alive, so reconfiguration cannot take a group below its quorum.
func (h *Heap) reconcile() {
	r := h.replica
	st := r.FullStatus()
	if st.RaftState != raft.StateLeader || st.LeadTransferee != 0 || h.eng.Ticks() < h.confWait {
		return
	}
	cs := r.ConfState()
	if len(cs.VotersOutgoing) > 0 {
		return // raft leaves the joint configuration by itself
	}
	n := h.node
	live := n.liveSet()
	now := time.Now()
	isVoter := func(id uint64) bool { return slices.Contains(cs.Voters, id) }
	isLearner := func(id uint64) bool { return slices.Contains(cs.Learners, id) }
	down := func(id uint64) bool {
		if p, ok := live[id]; ok {
			return p.Leaving
		}
		return n.downFor(id, live, now) >= h.cfg.ReplaceAfter
	}
	caughtUp := func(id uint64) bool {
		pr, ok := st.Progress[id]
		return ok && pr.Match+caughtUpSlack >= st.Commit
	}

	for id := range h.joinReqs {
		delete(h.joinReqs, id)
		if !h.takesJoin(id, live, now) {
			continue // it asks again
		}
		if !isVoter(id) && !isLearner(id) {
			h.changeConf(raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddLearnerNode, NodeID: id})
			return
		}
	}

	if live[h.self].Leaving {
		for _, v := range cs.Voters {
			if p, ok := live[v]; ok && v != h.self && !p.Leaving && caughtUp(v) {
				h.log.Info("leaving: hand leadership over", "to", p.Name)
				r.TransferLeader(v)
				h.confWait = h.eng.Ticks() + confTicks
				return
			}
		}
	}

	peers := make([]peerInfo, 0, len(live))
	for _, p := range live {
		peers = append(peers, p)
	}
	ranked := rendezvous(h.name, peers)
	want := oddVoters(h.replicas, len(ranked))
	desired := ranked[:want]
	isDesired := func(id uint64) bool { return slices.ContainsFunc(desired, func(p peerInfo) bool { return p.ID == id }) }
	var victim uint64
	for _, v := range cs.Voters {
		if down(v) {
			victim = v
			break
		}
	}
	var targets []uint64 // desired servers that are not voters, best first
	for _, p := range desired {
		if !isVoter(p.ID) {
			targets = append(targets, p.ID)
		}
	}
	allAlive := !slices.ContainsFunc(cs.Voters, func(v uint64) bool { _, ok := live[v]; return !ok })
	var promote []uint64
	switch {
	case victim != 0 && len(targets) > 0:
		promote = targets[:1] // replace a down voter
	case victim == 0 && len(cs.Voters) < want && len(targets) > 0:
		// Grow, to an odd number of voters at once: a group of two
		// loses its quorum with either voter.
		promote = targets[:min(len(targets), want-len(cs.Voters))]
		if (len(cs.Voters)+len(promote))%2 == 0 {
			promote = promote[:len(promote)-1]
		}
	case victim == 0 && len(targets) > 0 && len(cs.Voters) >= want && allAlive:
		// Rebalance, only while every voter is alive: swap the
		// lowest-placed voter out.
		for i := len(ranked) - 1; i >= 0; i-- {
			if id := ranked[i].ID; isVoter(id) && !isDesired(id) {
				victim = id
				break
			}
		}
		if victim != 0 {
			promote = targets[:1]
		}
	case victim != 0:
		// Nowhere to hand over to: a leaving voter may go if the rest are
		// alive (with another, if that would leave an even number); a
		// dead one stays until a server can replace it.
		if p, ok := live[victim]; ok && p.Leaving && len(cs.Voters) > 1 && allAlive {
			changes := []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode, NodeID: victim}}
			if (len(cs.Voters)-1)%2 == 0 {
				for i := len(ranked) - 1; i >= 0; i-- {
					if id := ranked[i].ID; isVoter(id) && id != victim && id != h.self {
						changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddLearnerNode, NodeID: id})
						break
					}
				}
			}
			h.changeConf(changes...)
			return
		}
		victim = 0
	}
	if len(promote) > 0 {
		for _, id := range promote {
			if !isLearner(id) {
				h.changeConf(raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddLearnerNode, NodeID: id})
				return
			}
		}
		if slices.ContainsFunc(promote, func(id uint64) bool { return !caughtUp(id) }) {
			return
		}
		var changes []raftpb.ConfChangeSingle
		for _, id := range promote {
			changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode, NodeID: id})
		}
		switch {
		case victim == 0:
		case down(victim):
			changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: victim})
		default:
			// Moved for balance: it keeps its replica, as a learner.
			changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddLearnerNode, NodeID: victim})
		}
		h.changeConf(changes...)
		return
	}

	for _, l := range cs.Learners {
		if down(l) || h.evicts(l) {
			h.changeConf(raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: l})
			return
		}
	}

	if len(desired) > 0 && desired[0].ID != h.self && isVoter(desired[0].ID) && caughtUp(desired[0].ID) &&
		h.eng.Ticks() >= h.lastTransfer+transferTicks {
		h.log.Info("move leadership to its placement", "to", desired[0].Name)
		r.TransferLeader(desired[0].ID)
		h.lastTransfer = h.eng.Ticks()
		h.confWait = h.eng.Ticks() + confTicks
	}
}

// changeConf proposes a configuration change.
func (h *Heap) changeConf(changes ...raftpb.ConfChangeSingle) {
	cc := raftpb.ConfChangeV2{Changes: changes}
	if err := h.replica.ProposeConfChange(cc); err != nil {
		h.log.Warn("configuration change not proposed", "err", err)
		return
	}
	h.confWait = h.eng.Ticks() + confTicks
	for _, c := range changes {
		name, _ := h.node.lookup(c.NodeID)
		h.log.Info("reconfigure", "change", c.Type.String(), "member", name)
	}
}

// noteConf publishes whether this node is a member and a voter of the
// group, and the configuration if it changed (the engine says when), which
// ends the wait for a proposed change.
func (h *Heap) noteConf(cs raftpb.ConfState, changed bool) {
	voter := slices.Contains(cs.Voters, h.self) || slices.Contains(cs.VotersOutgoing, h.self)
	member := voter || slices.Contains(cs.Learners, h.self) || slices.Contains(cs.LearnersNext, h.self)
	h.isVoter.Store(voter)
	h.inConf.Store(member)
	if changed || h.conf.Load() == nil {
		h.conf.Store(&cs)
	}
	if changed {
		h.confWait = 0
		h.confVersion.Add(1)
	}
}

// fillGroup fills in the heap's raft group as the local replica sees it.
func (h *Heap) fillGroup(g *Stats) {
	name := func(id uint64) string {
		if n, ok := h.node.lookup(id); ok {
			return n
		}
		return fmt.Sprintf("%016x", id)
	}
	if lead := h.leader.Load(); lead != 0 {
		g.Leader = name(lead)
	}
	if cs := h.conf.Load(); cs != nil {
		for _, id := range cs.Voters {
			g.Voters = append(g.Voters, name(id))
		}
		for _, id := range cs.Learners {
			g.Learners = append(g.Learners, name(id))
		}
		slices.Sort(g.Voters)
		slices.Sort(g.Learners)
		g.Joint = len(cs.VotersOutgoing) > 0
	}
	g.Term = h.term.Load()
}

// oddVoters is the number of voters a group aims for: its replication
// factor, at most the live servers, rounded down to an odd number, since an
// even number tolerates no more failures than one fewer and needs more
// voters alive.
func oddVoters(replicas, servers int) int {
	n := min(replicas, servers)
	if n > 0 && n%2 == 0 {
		n--
	}
	return max(n, 0)
}

// leadHistory keeps the last times a replica became its group's leader,
// with the index it had applied then, for tests and debugging: a replica
// that leads must have applied the configuration that made it a voter.
type leadHistory struct {
	leading bool // owned by the loop

	mu    sync.Mutex // protects following fields
	wins  []leadership
	total int // leaderships ever, kept or not
}

type leadership struct {
	term, applied uint64
}

const keepLeaderships = 32

// note records a change of the replica's raft state.
func (l *leadHistory) note(st raft.StateType, term, applied uint64) {
	lead := st == raft.StateLeader
	if lead && !l.leading {
		l.mu.Lock()
		if len(l.wins) == keepLeaderships {
			l.wins = slices.Delete(l.wins, 0, 1)
		}
		l.wins = append(l.wins, leadership{term: term, applied: applied})
		l.total++
		l.mu.Unlock()
	}
	l.leading = lead
}

// count returns how many times the replica became leader.
func (l *leadHistory) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// since returns the leaderships after the first n still kept.
func (l *leadHistory) since(n int) []leadership {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(l.total-n, len(l.wins))
	return slices.Clone(l.wins[len(l.wins)-k:])
}

// takesJoin says whether the leader adds a node that asks to join: not
// one that is leaving, or gone from membership for ReplaceAfter, which
// the next reconcile would remove again at once. A node membership has not
// shown this one yet is new (its request is a sign of life), and taken.
func (h *Heap) takesJoin(id uint64, live map[uint64]peerInfo, now time.Time) bool {
	if p, ok := live[id]; ok {
		return !p.Leaving
	}
	return h.node.goneFor(id, live, now) < h.cfg.ReplaceAfter
}
