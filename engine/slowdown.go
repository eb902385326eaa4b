package engine

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// The election clock. Raft counts its election timeout, its heartbeats
// and CheckQuorum in its own ticks, which the engine hands on from the
// owner's (Tick). Where a round trip takes longer than an election
// timeout (a starved processor, a network that queues), every voter's
// next timeout comes before the answers to its vote or pre-vote: the
// candidates campaign again and again at higher terms and split the
// votes, and the group elects no leader for as long as that lasts.
//
// So a replica that gets such an answer late, one to a campaign it has
// since given up for a later one, slows raft's clock: it hands raft one
// tick in factor of the owner's, factor doubling at each campaign that
// gets a late answer, up to maxSlowdown; and one that wins a campaign
// whose votes took half an election timeout of its clock or more slows
// it before its first CheckQuorum (noteCampaign). Campaigns alone slow
// nothing: a replica cut off campaigns with no answers at all, and must
// find the healed network as quick to elect as before. The clock holds
// while the replica leads (a leader elected with it would otherwise
// step down at its first CheckQuorum, its followers' answers not back
// yet) and while it follows, and is halved only once the replica has
// been steady for steadyElections election timeouts of its slower
// clock: a leader that heard a quorum of its voters, or a follower that
// heard its leader, within every election timeout of the halved clock
// (what CheckQuorum and a follower's timeout would then ask of it).
//
// Only raft's clock slows. Everything the engine and its owner read off
// ticks (Ticks, LeaderInReach, Silence, Stalled, LastUnsteady, retain's
// patience, NoLeaderTicks, ResendTicks, SnapshotGraceTicks) counts the
// owner's ticks, as before: it is about time, and a leader at most
// maxSlowdown slower still heartbeats often enough for each of them.

// maxSlowdown caps the election clock's factor. A leader heartbeats
// once every raft tick (HeartbeatTick 1), so once every factor of the
// owner's ticks: at 4, at least twice within the shortest election
// timeout of a follower whose clock is not slowed (ElectionTicks of the
// owner's ticks, at 10) and within the election timeout the engine's own
// measures of silence count, so one lost heartbeat disturbs none. At 8 a
// single one would. The group then elects while a round trip takes less
// than maxSlowdown election timeouts.
const maxSlowdown = 4

// steadyElections is how many election timeouts of its slower clock a
// replica must have been steady before the clock is halved.
const steadyElections = 4

// electionClock is how the engine hands raft its ticks.
type electionClock struct {
	factor    uint64 // the owner's ticks per raft tick: 1, 2 or 4
	since     uint64 // the owner's ticks since raft's last
	steady    uint64 // the owner's ticks steady at half the factor, in a row
	lateAt    uint64 // the campaign's term that last got a late answer: one doubling a campaign
	slowdowns uint64 // doublings so far
	// The tick and term this replica last became a candidate at.
	campaignTick, campaignTerm uint64
}

// ElectionSlowdown returns how many of the owner's ticks make one of
// raft's (1 unless answers to this replica's campaigns came late), and
// how many times it was doubled since the engine started.
func (e *Engine) ElectionSlowdown() (factor, slowdowns uint64) {
	return e.clock.factor, e.clock.slowdowns
}

// tickRaft hands raft a tick if this tick of the owner's makes one.
func (e *Engine) tickRaft() {
	e.clock.since++
	if e.clock.since < e.clock.factor {
		return
	}
	e.clock.since = 0
	e.r.Tick()
}

// noteLate doubles the election clock's factor, once a campaign, if m
// (about to be stepped) answers a vote or pre-vote of this replica that
// asked for a lower term than the campaign it is in now: it came after
// the replica had given that campaign up. Only answers that carry the
// term they answer count: every vote answer, and a granted pre-vote (a
// refused one carries the refuser's term).
func (e *Engine) noteLate(m *raftpb.Message) {
	if m.Type != raftpb.MsgVoteResp && (m.Type != raftpb.MsgPreVoteResp || m.Reject) || m.From == e.id {
		return
	}
	st := e.r.Status()
	var campaign uint64
	switch st.RaftState {
	case raft.StatePreCandidate:
		campaign = st.Term + 1
	case raft.StateCandidate:
		campaign = st.Term
	default:
		return
	}
	if m.Term >= campaign || campaign <= e.clock.lateAt || e.cfg.FixedElectionClock {
		return
	}
	e.clock.lateAt = campaign
	if e.slowDown() {
		e.log.Info("election clock slowed: a campaign's answer came after the next campaign",
			"factor", e.clock.factor, "from", m.From, "answered", m.Term, "campaign", campaign, "type", m.Type)
	}
}

// slowDown doubles the election clock's factor, if below maxSlowdown,
// and reports whether it did.
func (e *Engine) slowDown() bool {
	e.clock.steady = 0
	if e.clock.factor >= maxSlowdown {
		return false
	}
	e.clock.factor *= 2
	e.clock.slowdowns++
	return true
}

// noteCampaign notes, from a Ready's soft state (not nil), the tick this
// replica became a candidate at; and when that campaign wins, slows the
// clock until the election timeout of its clock is at least twice the
// time the campaign took. That time is a round trip of its votes; the
// leader's first CheckQuorum, an election timeout later, steps down
// unless it has had an answer to its first heartbeats by then, which
// take as long. A leader elected by answers that came just within a
// candidate's randomized timeout, up to twice as long, would step down
// at once.
func (e *Engine) noteCampaign(soft *raft.SoftState) {
	switch {
	case soft.RaftState == raft.StateCandidate:
		e.clock.campaignTick, e.clock.campaignTerm = e.ticks, e.r.Status().Term
	case soft.Lead == e.id && e.lead != e.id && !e.cfg.FixedElectionClock && e.clock.campaignTerm == e.r.Status().Term:
		took, from := e.ticks-e.clock.campaignTick, e.clock.factor
		for 2*took >= e.cfg.ElectionTicks*e.clock.factor {
			if !e.slowDown() {
				break
			}
		}
		if e.clock.factor != from {
			e.log.Info("election clock slowed: the votes took half an election timeout or more",
				"factor", e.clock.factor, "ticks", took, "term", e.clock.campaignTerm)
		}
	}
}

// noteSteady counts the ticks a slowed replica has been steady at half
// its factor, and halves the factor after steadyElections election
// timeouts of it.
func (e *Engine) noteSteady() {
	if e.clock.factor <= 1 {
		return
	}
	half := e.clock.factor / 2
	if !e.steadyWithin(half * e.cfg.ElectionTicks) {
		e.clock.steady = 0
		return
	}
	e.clock.steady++
	if e.clock.steady < steadyElections*e.cfg.ElectionTicks*e.clock.factor {
		return
	}
	e.clock.factor, e.clock.steady = half, 0
	e.log.Info("election clock sped up", "factor", half)
}

// steadyWithin reports whether the replica leads and heard a quorum of
// its voters within the last window ticks, or follows a leader in reach
// it heard within them.
func (e *Engine) steadyWithin(window uint64) bool {
	switch {
	case e.lead == 0 || e.leadLeft():
		return false
	case e.lead != e.id:
		return e.ticks-e.heardTick < window
	}
	cs := e.r.ConfState()
	return e.heardMajority(cs.Voters, window) && (len(cs.VotersOutgoing) == 0 || e.heardMajority(cs.VotersOutgoing, window))
}

// heardMajority reports whether this leader heard a majority of voters
// (itself among them, if it is one) within the last window ticks.
func (e *Engine) heardMajority(voters []uint64, window uint64) bool {
	heard := 0
	for _, id := range voters {
		if silent, _ := e.Silence(id); silent < window {
			heard++
		}
	}
	return 2*heard > len(voters)
}
