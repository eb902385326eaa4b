package engine

import (
	"slices"

	"go.etcd.io/raft/v3/raftpb"
)

// LastUnsteady returns, on a leader, the last tick at which the peer of
// raft ID id was unsteady (now on a replica not known to lead, raft's
// leadership not yet settled included: nothing is steady there): the tick
// this replica took the lead, the tick the peer was first seen a voter
// here, the tick a message from it arrived after a silence of an
// election timeout or more (as a learner too), or now if it is silent
// that long now. Placement hands the lead to a voter only SteadyTicks
// after (PlanInput.Unsteady).
//
// Until 2026-12-07 the owner sampled silences at its reconciles, every
// few ticks, and noted voters only when the term changed: a voter
// promoted later in the term counted as steady from tick 0 and was
// handed the lead at once, and a silence ending between two samples went
// unseen.
func (e *Engine) LastUnsteady(id uint64) uint64 {
	if e.lead != e.id {
		return e.ticks
	}
	if ticks, _ := e.Silence(id); ticks >= e.cfg.ElectionTicks {
		return e.ticks
	}
	return max(e.leadTick, e.voterTick[id], e.unsteadyAt[id])
}

// Unsteady returns LastUnsteady of each of voters, for
// PlanInput.Unsteady.
func (e *Engine) Unsteady(voters []uint64) map[uint64]uint64 {
	out := make(map[uint64]uint64, len(voters))
	for _, id := range voters {
		out[id] = e.LastUnsteady(id)
	}
	return out
}

// noteHeard notes, on a leader, a message from the peer id: if nothing
// came from it for an election timeout or more before (since it was
// last heard, this replica took the lead or it joined), it is unsteady
// now. Called before heardFrom takes the message's tick.
func (e *Engine) noteHeard(id uint64) {
	from := e.memberSince(id)
	if heard, ok := e.heardFrom[id]; ok {
		from = max(from, heard)
	}
	if e.ticks-from >= e.cfg.ElectionTicks {
		e.unsteadyAt[id] = e.ticks
	}
}

// noteVoters notes the tick each voter of cs that was none in the last
// configuration seen became one, and forgets the replicas cs leaves out.
func (e *Engine) noteVoters(cs raftpb.ConfState) {
	for _, id := range cs.Voters {
		if !slices.Contains(e.conf.Voters, id) {
			e.voterTick[id] = e.ticks
		}
	}
	for _, m := range []map[uint64]uint64{e.voterTick, e.unsteadyAt} {
		for id := range m {
			if !slices.Contains(cs.Voters, id) && !slices.Contains(cs.Learners, id) &&
				!slices.Contains(cs.VotersOutgoing, id) && !slices.Contains(cs.LearnersNext, id) {
				delete(m, id)
			}
		}
	}
}
