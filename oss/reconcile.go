package oss

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/oss/pki"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

const (
	// reconcileTicks is how often a leader reconciles its group.
	reconcileTicks = 5
	// confTicks is how long a leader waits for a proposed configuration
	// change (or leadership transfer) before it reconsiders.
	confTicks = 30
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

// reconcile is the leader's replica management, one step per call:
// engine.Plan decides the step from what this node knows, and reconcile
// carries it out.
func (h *Heap) reconcile() {
	h.confRetry = false
	st := h.replica.FullStatus()
	if st.RaftState != raft.StateLeader {
		return // only a leader plans: skip gathering its input
	}
	in := h.planInput(st)
	a := engine.Plan(in)
	if a.Kind == engine.ChangeConf {
		if err := h.changeConf(a.Changes...); err != nil {
			// Not proposed: the join requests the change settles
			// stay, and one raft could not take yet is planned again
			// at the next tick.
			h.confRetry = errors.Is(err, consistency.ErrConfChangePending)
			return
		}
	}
	for _, id := range in.Joins[:a.Consumed] {
		delete(h.joinReqs, id)
	}
	switch a.Kind {
	case engine.ChangeConf:
		switch a.Why {
		case engine.Evict:
			h.node.acl.evicted.Add(1)
			name, _ := h.node.lookup(a.Changes[0].NodeID)
			h.log.Info("removing a client that may no longer read the heap", "client", name)
		case engine.DropSilent:
			name, _ := h.node.lookup(a.Changes[0].NodeID)
			h.log.Info("removing a learner, no live server, that sent nothing for ReplaceAfter; it rejoins if it is alive", "member", name)
		case engine.Reduce:
			h.log.Info("replication factor lowered: voters taken out", "voters", len(in.Conf.Voters), "factor", in.Replicas, "out", len(a.Changes))
		case engine.Shrink:
			h.log.Warn("removing dead voters no server can replace, so the group survives another failure",
				"voters", len(in.Conf.Voters), "removed", len(a.Changes))
		}
	case engine.TransferLeader:
		name, _ := h.node.lookup(a.To)
		switch a.Why {
		case engine.HandOver:
			h.log.Info("leaving: hand leadership over", "to", name)
		case engine.Reduce:
			h.log.Info("replication factor lowered and this voter goes: hand leadership over", "to", name)
		default:
			h.log.Info("move leadership to its placement", "to", name)
			h.lastTransfer = h.eng.Ticks()
		}
		h.replica.TransferLeader(a.To)
		h.confWait = h.eng.Ticks() + confTicks
	}
}

// planInput gathers what engine.Plan needs: raft's status, the live
// members, since when the members of the configuration (and the nodes
// asking to join) have been missing, the join requests and the learners
// that may no longer read the heap.
func (h *Heap) planInput(st raft.Status) engine.PlanInput {
	n := h.node
	live := n.liveSet()
	now := time.Now()
	cs := h.replica.ConfState()
	in := engine.PlanInput{
		Heap:         h.name,
		Self:         h.self,
		Replicas:     h.planFactor(cs),
		Leader:       st.RaftState == raft.StateLeader,
		Transferring: st.LeadTransferee != 0,
		Conf:         cs,
		Commit:       st.Commit,
		Match:        make(map[uint64]uint64, len(st.Progress)),
		Tick:         h.eng.Ticks(),
		WaitUntil:    h.confWait,
		LastTransfer: h.lastTransfer,
		Unsteady:     h.eng.Unsteady(cs.Voters),
		Live:         h.placeable(live, cs),
		Now:          now,
		Missing:      make(map[uint64]time.Time),
		ReplaceAfter: h.cfg.ReplaceAfter,
	}
	for id, pr := range st.Progress {
		in.Match[id] = pr.Match
	}
	// Every member's absence is timed from the first step that misses
	// it, also while the plan is busy with another member: a voter that
	// fails while another is being replaced is replaced ReplaceAfter after
	// its failure, not ReplaceAfter after that replacement.
	for _, id := range slices.Concat(cs.Voters, cs.Learners) {
		if since, ok := n.missingSince(id, live, now); ok {
			in.Missing[id] = since
		}
	}
	in.Silent = h.silences(slices.Concat(cs.Voters, cs.Learners), h.eng.Silence)
	in.Stalled = h.silences(cs.Learners, h.eng.Stalled)
	for id := range h.joinReqs {
		in.Joins = append(in.Joins, id)
		if since, ok := n.goneSince(id, live, now); ok {
			in.Missing[id] = since
		}
	}
	slices.Sort(in.Joins)
	for _, id := range cs.Learners {
		if h.unreadable(id) {
			in.Evict = append(in.Evict, id)
		}
	}
	in.Unused = h.unusedLearners(cs.Learners)
	return in
}

// silences returns how long each of ids has sent this leader nothing
// (engine.PlanInput.Silent), counted in ticks, which a starved process
// counts late rather than early. A member a snapshot is on its way to,
// or that installs one, is left out until its silence outlasts
// SnapshotGrace: it answers once it has stored the snapshot, which may
// take longer than ReplaceAfter. So is one silent for two election
// timeouts or less: a follower in reach answers every heartbeat, one a
// tick, and a ReplaceAfter of a tick or two (300 ms at a tick of 300)
// counted a follower between two heartbeats as silent, which no caught-
// up voter then was, and leadership never moved to its placement. How
// long learners have acknowledged nothing more (engine.PlanInput.Stalled,
// from the engine's Stalled) is counted the same way.
func (h *Heap) silences(ids []uint64, of func(uint64) (uint64, bool)) map[uint64]time.Duration {
	out := make(map[uint64]time.Duration, len(ids))
	for _, id := range ids {
		ticks, snap := of(id)
		d := time.Duration(ticks) * h.cfg.TickInterval
		if ticks <= 2*electionTicks || snap && d < h.cfg.SnapshotGrace {
			continue
		}
		out[id] = d
	}
	return out
}

// placeable returns the live nodes placement may add to the group: for
// the catalog, not a node whose name's record names another raft ID (an
// incarnation the catalog has not registered: a node restarted without
// its data), this node and the voters of cs excepted. Such a node gets
// in by its join, which moves the record to its ID (admitJoin).
// Placement added it from membership while its joins were refused (the
// old incarnation still listed live), and made it a voter; its replica,
// a member, asked no more, and the record kept the old ID for good: the
// catalog named its voter a former incarnation ("n2/…"), one live voter
// short (TestOssdImmediateRestarts, oss/ossdtest, 1 run in 10 to 15
// under load). A voter whose record lags (until checkRecord mends it)
// counts live: left out, it took no new place, having its vote, but the
// plan counted it dead, so a leaving leader handed leadership to it not
// even when no other voter could take it, leadership kept off it until
// the record was mended and then moved back, and rebalancing and
// shrinking waited (TestALeavingLeaderHandsOverToAVoterWhoseRecordLags,
// TestTheCatalogsLeadGoesBackToAVoterWhoseRecordLags). A learner whose
// record lags stays out: its promotion would be a new place. Neither is
// counted missing.
func (h *Heap) placeable(live map[uint64]peerInfo, cs raftpb.ConfState) []engine.Member {
	if h.name != catalogName {
		return members(live)
	}
	recs := h.node.committed().recs
	out := make([]engine.Member, 0, len(live))
	for id, p := range live {
		voter := slices.Contains(cs.Voters, id) || slices.Contains(cs.VotersOutgoing, id)
		if rec, ok := recs[p.Name]; ok && rec.ID != id && id != h.self && !voter {
			continue
		}
		out = append(out, member(p))
	}
	return out
}

// members converts live nodes for the planner.
func members(live map[uint64]peerInfo) []engine.Member {
	out := make([]engine.Member, 0, len(live))
	for _, p := range live {
		out = append(out, member(p))
	}
	return out
}

func member(p peerInfo) engine.Member {
	return engine.Member{ID: p.ID, Name: p.Name, Server: p.Role == pki.RoleServer, Leaving: p.Leaving}
}

// changeConf proposes a configuration change, or says why it did not. A
// leader declines one while another is pending, and until it
// has applied an entry of its term: a leader just elected, asked by a
// node to join, used to lose the request that way (the change became an
// empty entry, the request was forgotten, and the node asked again after
// 2 s). Now the change is not proposed and the caller plans it again.
func (h *Heap) changeConf(changes ...raftpb.ConfChangeSingle) error {
	cc := raftpb.ConfChangeV2{Changes: changes}
	if err := h.replica.ProposeConfChange(cc); err != nil {
		if errors.Is(err, consistency.ErrConfChangePending) {
			h.log.Debug("configuration change deferred", "why", err)
		} else {
			h.log.Warn("configuration change not proposed", "err", err)
		}
		return err
	}
	h.confWait = h.eng.Ticks() + confTicks
	for _, c := range changes {
		name, _ := h.node.lookup(c.NodeID)
		h.log.Info("reconfigure", "change", c.Type.String(), "member", name)
	}
	return nil
}

// noteConf publishes whether this node is a member and a voter of the
// group, and the configuration if it changed (the engine says when), which
// ends the wait for a proposed change.
func (h *Heap) noteConf(cs raftpb.ConfState, changed bool) {
	voter := slices.Contains(cs.Voters, h.self) || slices.Contains(cs.VotersOutgoing, h.self)
	member := voter || slices.Contains(cs.Learners, h.self) || slices.Contains(cs.LearnersNext, h.self)
	h.isVoter.Store(voter)
	if was := h.inConf.Swap(member); changed && was && !member {
		h.contact.dropped.Store(true)
	}
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
		n, ok := h.node.lookup(id)
		if !ok {
			return fmt.Sprintf("%016x", id)
		}
		if rec, has := h.node.committed().recs[n]; has && rec.ID != id && id != h.node.id {
			// A former incarnation: the node lost its data and joined
			// again under a new raft ID, and this one is no live member.
			return fmt.Sprintf("%s/%016x", n, id)
		}
		return n
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

// oddVoters is the number of voters a group aims for (engine.OddVoters).
func oddVoters(replicas, servers int) int { return engine.OddVoters(replicas, servers) }

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

// takesJoin says whether the leader adds a node that asks to join
// (engine.PlanInput.TakesJoin).
func (h *Heap) takesJoin(id uint64, live map[uint64]peerInfo, now time.Time) bool {
	in := engine.PlanInput{Live: members(live), Now: now, ReplaceAfter: h.cfg.ReplaceAfter}
	if since, ok := h.node.goneSince(id, live, now); ok {
		in.Missing = map[uint64]time.Time{id: since}
	}
	return in.TakesJoin(id)
}

// holdsVote reports whether a leave waits for this replica (live is the
// live nodes): it is a voter, and it leads the group (the leader hands
// leadership to a voter that stays) or a live server that stays is no
// voter of it and can take its vote. A vote that no server can take stays
// where it is, as a dead node's would (engine.Plan, step 6): a group that
// lost its voters to graceful leaves of a whole cluster stopping could not
// start again without the last of them.
func (h *Heap) holdsVote(live []peerInfo) bool {
	if !h.isVoter.Load() {
		return false
	}
	if h.leader.Load() == h.self {
		return true
	}
	cs := h.conf.Load()
	for _, p := range live {
		if p.ID != h.self && p.Role == pki.RoleServer && !p.Leaving && (cs == nil || !slices.Contains(cs.Voters, p.ID)) {
			return true
		}
	}
	return false
}
