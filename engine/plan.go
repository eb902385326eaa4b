package engine

import (
	"cmp"
	"hash/fnv"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// The leader of a heap's raft group manages its replicas one step at a
// time: Plan decides the step from what the leader knows (PlanInput), and
// the runtime carries it out (proposes the configuration change or
// transfers leadership) and calls Plan again a few ticks later. Plan reads
// no clock and no membership of its own, so the same input always gives
// the same step, on a real node and in a simulation.

const (
	// CaughtUpSlack is how many entries a learner may trail the commit
	// index by and still be promoted.
	CaughtUpSlack = 64
	// TransferTicks spaces out leadership transfers for placement.
	TransferTicks = 50
	// SteadyTicks is how long a voter must have been heard steadily
	// (PlanInput.Unsteady) before placement hands it the lead.
	SteadyTicks = 100
)

// Member is a live node as membership shows it.
type Member struct {
	ID      uint64 // its raft ID in every group, new at every start
	Name    string // placement hashes it
	Server  bool   // a server node; a client is never a voter
	Leaving bool   // announced a graceful leave and is handing over
}

// PlanInput is what a group's leader knows when it plans a step.
type PlanInput struct {
	Heap     string // the heap's name, which placement hashes
	Self     uint64 // this replica's raft ID
	Replicas int    // the voters the heap wants (its replication factor)

	// Raft's view of the group.
	Leader       bool // this replica leads the group
	Transferring bool // a leadership transfer is under way
	Conf         raftpb.ConfState
	Commit       uint64            // the leader's commit index
	Match        map[uint64]uint64 // per member, the highest index it acknowledged to this leader; none or 0: not caught up

	// The runtime's clock, in ticks.
	Tick         uint64 // now
	WaitUntil    uint64 // until when a proposed change or a transfer is awaited: no step before
	LastTransfer uint64 // when leadership last moved for placement
	// Unsteady is, for voters, the last tick at which each was unsteady
	// to this leader (Engine.LastUnsteady): its taking the lead, the
	// voter's becoming one, the end of a silence of an election timeout
	// or more, or now if it is silent that long: a voter cut off, paused
	// or flapping. Placement hands the lead to a voter only SteadyTicks
	// after. A flapping best-placed voter was
	// handed the lead each time it was back, and lost it at its next cut
	// longer than an election timeout: an election, and the heap without
	// a leader, every flap (a QUIC node flapping for a minute took the
	// heap's term from 3 to 80), where a flapping follower costs none.
	Unsteady map[uint64]uint64

	// Membership, as this node observes it.
	Live []Member // the live nodes, this one included
	Now  time.Time
	// Missing is, for nodes Live does not hold, since when this node has
	// seen each one missing. A node without an entry counts as missing for
	// no time: one just noticed, or one asking to join that membership has
	// never shown (it is new, not gone).
	Missing      map[uint64]time.Time
	ReplaceAfter time.Duration // how long a voter may be missing before it is replaced
	// Silent is, for members of the configuration, how long each has
	// sent this leader nothing (since it took the lead, if nothing since).
	// A voter silent for ReplaceAfter is replaced as a down one is, where
	// a server can take its place, but kept as a learner: membership's
	// probes, indirect ones too, may see it alive while only this leader
	// cannot reach it (a link cut between the two alone). A silent member
	// is not caught up: it is neither promoted nor handed the lead. The
	// runtime leaves out a member it is sending a snapshot to, silent
	// while it installs it, until that outlasts its grace.
	Silent map[uint64]time.Duration
	// Stalled is, for learners, how long each has acknowledged no more of
	// the log to this leader (since it joined the configuration or this
	// leader took the lead, if later). A learner that has not caught up
	// and is stalled for ReplaceAfter (silent, or answering but taking no
	// entries) is passed over as a voter's replacement, as a silent one
	// is, for another server that can take the place: it stays a learner,
	// with its replica, and is taken again once it moves. One that catches
	// up however slowly moves, and is waited for. The runtime leaves out a
	// learner a snapshot is on its way to, or that installs one, until
	// that outlasts its grace.
	Stalled map[uint64]time.Duration

	Joins []uint64 // nodes that asked to be taken as learners, in the order to consider them
	Evict []uint64 // learners that may no longer read the heap (clients whose grant went)
	// Unused are learners whose nodes hold their replicas for no use of
	// their own (no application opened the heap there) and asked to be
	// removed: a voter's stand-in left over once placement took its voter
	// back, a voter moved for balance. One placement does not want goes
	// once the group is at full strength (no voter down or silent, as
	// many voters as placement wants); each costs every commit a message.
	Unused []uint64
}

// ActionKind is what a step does.
type ActionKind uint8

const (
	Nothing        ActionKind = iota // nothing to do now
	ChangeConf                       // propose Action.Changes as one configuration change
	TransferLeader                   // hand leadership to Action.To
)

// StepReason says why a step of replica management is taken.
type StepReason uint8

const (
	Steady     StepReason = iota // nothing to do
	Join                         // a node asked to join: add it as a learner
	HandOver                     // this leader leaves: hand leadership to a caught-up voter
	Replace                      // a voter is down (dead for ReplaceAfter, or leaving): replace it
	Grow                         // fewer voters than wanted: add voters, to an odd number
	Rebalance                    // a better-placed server is no voter: move the lowest-placed voter there
	Shrink                       // dead voters no server can replace go, so the group survives more failures
	DropDown                     // remove a learner that is down
	Evict                        // remove a learner that may no longer read the heap
	Place                        // move leadership to the best-placed voter
	DropUnused                   // remove a learner no one uses that placement does not want
	DropSilent                   // remove a learner, not a live server, silent to this leader for ReplaceAfter
	Reduce                       // more voters than the replication factor (lowered since): take the surplus out
)

var reasons = [...]string{"steady", "join", "hand over", "replace", "grow", "rebalance", "shrink", "drop down", "evict", "place", "drop unused", "drop silent", "reduce"}

func (r StepReason) String() string {
	if int(r) < len(reasons) {
		return reasons[r]
	}
	return "unknown"
}

// Action is one step of replica management.
type Action struct {
	Kind    ActionKind
	Why     StepReason
	Changes []raftpb.ConfChangeSingle // for ChangeConf: the parts of one joint-consensus change
	To      uint64                    // for TransferLeader
	// Consumed is how many of PlanInput.Joins, from the first, the step
	// settled: the runtime forgets them (a node refused asks again) and
	// keeps the rest for a later step.
	Consumed int
}

// Plan returns the next step of the replica management of a group this
// node leads, in this order of preference:
//
//  1. add a node that asked to join as a learner (not one that is down);
//  2. if this leader is leaving, hand leadership to a caught-up live voter;
//     with more voters than the replication factor wants (it was lowered),
//     take the surplus out in one change (see reduce);
//  3. replace a down voter (or, failing one, a voter silent to this
//     leader for ReplaceAfter, kept as a learner: PlanInput.Silent)
//     by the best-placed server that is not a voter
//     (one placement wants, or else any live server that stays; not a
//     learner silent or stalled for ReplaceAfter: PlanInput.Stalled):
//     add it as a learner, and once it has acknowledged an entry and is
//     within CaughtUpSlack entries of the commit index promote it and
//     remove the down voter in one change;
//  4. grow a group below its odd target the same way, to an odd number;
//  5. if every voter is alive, move the lowest-placed voter to a
//     better-placed server the same way (it stays a learner, with its replica);
//  6. a leaving voter that no server can replace stays a voter, as one
//     that died would: removing it would leave the group needing nodes that
//     a crash of the same node would not (a whole cluster stopped with
//     SIGTERM kept one voter a group, and could not start without it);
//     dead voters no server can replace go together in one change if the
//     group then survives more failures (see shrink), and otherwise stay;
//  7. remove a learner that is down or may no longer read the heap, or
//     that is not a live server and silent for ReplaceAfter, and
//     at full strength one placement does not want whose node asked to
//     be removed (PlanInput.Unused);
//  8. move leadership to the best-placed voter, at most every TransferTicks,
//     once it has been heard steadily for SteadyTicks.
//
// Plan does nothing unless this replica leads, no transfer is under way,
// the group is not in a joint configuration and no change is awaited. A
// configuration never loses a voter without gaining one in the same
// change, except dead voters whose removal raises the failures the group survives while the old and
// the new configuration both keep a live majority, so no step takes the
// group below its quorum.
func Plan(in PlanInput) Action {
	cs := &in.Conf
	if !in.Leader || in.Transferring || in.Tick < in.WaitUntil || len(cs.VotersOutgoing) > 0 {
		return Action{} // raft leaves a joint configuration by itself
	}
	p := newPlanner(&in)
	for i, id := range in.Joins {
		if p.takesJoin(id) && !p.isVoter(id) && !p.isLearner(id) {
			return Action{Kind: ChangeConf, Why: Join, Changes: []raftpb.ConfChangeSingle{addLearner(id)}, Consumed: i + 1}
		}
	}
	a := p.plan()
	a.Consumed = len(in.Joins)
	return a
}

// TakesJoin says whether the leader adds a node that asks to join: not one
// that is leaving, or gone from membership for ReplaceAfter, which the
// next step would remove again at once. A node membership has not shown
// this one yet is new (its request is a sign of life), and taken.
func (in *PlanInput) TakesJoin(id uint64) bool { return newPlanner(in).takesJoin(id) }

// OddVoters is the number of voters a group aims for: its replication
// factor, at most the live servers, rounded down to an odd number, since an
// even number tolerates no more failures than one fewer and needs more
// voters alive.
func OddVoters(replicas, servers int) int {
	n := min(replicas, servers)
	if n > 0 && n%2 == 0 {
		n--
	}
	return max(n, 0)
}

// Rank orders the servers among members for a heap, best first, leaving
// out clients and leaving nodes: rendezvous hashing, the highest weight of
// (heap, name) first. Every node computes the same order from the same
// live set, and a join or a failure moves only the heaps whose top places
// it touches.
func Rank(heap string, members []Member) []Member {
	type scored struct {
		m Member
		w uint64
	}
	var s []scored
	for _, m := range members {
		if !m.Server || m.Leaving {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(heap))
		h.Write([]byte{0})
		h.Write([]byte(m.Name))
		s = append(s, scored{m, mix64(h.Sum64())})
	}
	slices.SortFunc(s, func(a, b scored) int {
		if c := cmp.Compare(b.w, a.w); c != 0 {
			return c
		}
		return cmp.Compare(a.m.Name, b.m.Name)
	})
	out := make([]Member, len(s))
	for i := range s {
		out[i] = s[i].m
	}
	return out
}

// mix64 is splitmix64's finaliser: FNV's low bits are poorly mixed.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// planner answers questions about one PlanInput.
type planner struct {
	in   *PlanInput
	live map[uint64]Member
}

func newPlanner(in *PlanInput) *planner {
	p := &planner{in: in, live: make(map[uint64]Member, len(in.Live))}
	for _, m := range in.Live {
		p.live[m.ID] = m
	}
	return p
}

func (p *planner) isVoter(id uint64) bool   { return slices.Contains(p.in.Conf.Voters, id) }
func (p *planner) isLearner(id uint64) bool { return slices.Contains(p.in.Conf.Learners, id) }

// missingFor is how long a node that is not live has been missing.
func (p *planner) missingFor(id uint64) time.Duration {
	since, ok := p.in.Missing[id]
	if !ok {
		return 0
	}
	return p.in.Now.Sub(since)
}

// down reports whether a member is to be replaced: leaving, or missing for
// ReplaceAfter.
func (p *planner) down(id uint64) bool {
	if m, ok := p.live[id]; ok {
		return m.Leaving
	}
	return p.missingFor(id) >= p.in.ReplaceAfter
}

// silent reports whether a member of the configuration has sent this
// leader nothing for ReplaceAfter (PlanInput.Silent).
func (p *planner) silent(id uint64) bool {
	d, ok := p.in.Silent[id]
	return ok && id != p.in.Self && d >= p.in.ReplaceAfter
}

// goneClient reports whether a learner that is not a live server (a
// client node, or a node membership does not list) has sent this leader
// nothing for ReplaceAfter. Membership may list a client that is gone
// (a death it doubted after its judge stood still, and whose confirming
// join never ran uninterrupted on a loaded machine), and a client holds
// no vote and no place: removing one that is alive costs it nothing but
// a rejoin, which its replica asks for once it hears a leader again.
func (p *planner) goneClient(id uint64) bool {
	m, live := p.live[id]
	return (!live || !m.Server) && p.silent(id)
}

func (p *planner) takesJoin(id uint64) bool {
	if m, ok := p.live[id]; ok {
		return !m.Leaving
	}
	return p.missingFor(id) < p.in.ReplaceAfter
}

// stalled reports whether a learner that has not caught up has
// acknowledged nothing more to this leader for ReplaceAfter
// (PlanInput.Stalled).
func (p *planner) stalled(id uint64) bool {
	d, ok := p.in.Stalled[id]
	match := p.in.Match[id]
	return ok && d >= p.in.ReplaceAfter && (match == 0 || match+CaughtUpSlack < p.in.Commit)
}

// passedOver reports whether a server is passed over as a voter's
// replacement: silent to this leader, or a learner stalled behind it.
func (p *planner) passedOver(id uint64) bool { return p.silent(id) || p.stalled(id) }

// caughtUp reports whether a member is close enough to the commit index to
// vote (or lead) without stalling the group. A member that has acknowledged
// nothing to this leader (match 0) is not, however young the log: it may
// not even be reachable.
func (p *planner) caughtUp(id uint64) bool {
	if p.silent(id) {
		return false
	}
	match := p.in.Match[id]
	return match > 0 && match+CaughtUpSlack >= p.in.Commit
}

// plan is Plan after the join requests.
func (p *planner) plan() Action {
	if a, ok := p.handOver(); ok {
		return a
	}
	ranked := Rank(p.in.Heap, p.in.Live)
	desired := ranked[:OddVoters(p.in.Replicas, len(ranked))]
	if a, ok := p.reduce(ranked); ok {
		return a
	}
	if a, ok := p.changeVoters(ranked, desired); ok {
		return a
	}
	if a, ok := p.dropLearner(); ok {
		return a
	}
	if a, ok := p.dropUnused(desired); ok {
		return a
	}
	return p.placeLeader(desired)
}

// handOver has a leaving leader transfer to a caught-up voter that stays.
func (p *planner) handOver() (Action, bool) {
	in, cs := p.in, &p.in.Conf
	if p.live[in.Self].Leaving {
		for _, v := range cs.Voters {
			if m, ok := p.live[v]; ok && v != in.Self && !m.Leaving && p.caughtUp(v) {
				return Action{Kind: TransferLeader, Why: HandOver, To: v}, true
			}
		}
	}
	return Action{}, false
}

// changeVoters replaces a down voter, grows the group to its odd size,
// rebalances it towards desired (the best-ranked servers), or shrinks it
// of dead voters. ok is false if the voters are as they should be.
func (p *planner) changeVoters(ranked, desired []Member) (Action, bool) {
	cs := &p.in.Conf
	want := len(desired)
	var victim uint64
	for _, v := range cs.Voters {
		if p.down(v) {
			victim = v
			break
		}
	}
	if victim == 0 {
		// A silent voter is replaced where a server can take its place
		// (promote keeps it a learner); none is removed for silence
		// alone (shrink counts it live).
		victim = p.firstSilent()
	}
	// Desired servers that are not voters, best first; not one silent to
	// this leader (a voter replaced for its silence, kept a learner), nor
	// a learner stalled behind it (a replacement the leader cannot reach),
	// which could not catch up while it stays so, and would hold every
	// later step (a dead voter's replacement, an eviction) behind it.
	var targets []uint64
	for _, m := range desired {
		if !p.isVoter(m.ID) && !p.passedOver(m.ID) {
			targets = append(targets, m.ID)
		}
	}
	if victim != 0 && len(targets) == 0 {
		// A down voter takes any live server that stays and is no voter,
		// best placed first, if placement wants none: of three voters
		// over four servers, two leaving at once leave two servers that
		// stay, of which placement wants one, a voter already, and the
		// two votes kept would leave one live voter of three.
		targets = spares(ranked, func(id uint64) bool { return p.isVoter(id) || p.passedOver(id) })
	}
	allAlive := !slices.ContainsFunc(cs.Voters, func(v uint64) bool { _, ok := p.live[v]; return !ok })
	var promote []uint64
	why := Replace
	switch {
	case victim != 0 && len(targets) > 0:
		promote = targets[:1] // replace a down voter
	case victim == 0 && len(cs.Voters) < want && len(targets) > 0:
		// Grow, to an odd number of voters at once: a group of two
		// loses its quorum with either voter.
		why = Grow
		promote = targets[:min(len(targets), want-len(cs.Voters))]
		if (len(cs.Voters)+len(promote))%2 == 0 {
			promote = promote[:len(promote)-1]
		}
	case victim == 0 && len(targets) > 0 && len(cs.Voters) >= want && allAlive:
		// Rebalance, only while every voter is alive: swap the
		// lowest-placed voter out.
		why = Rebalance
		victim = p.lowestUndesired(ranked, desired)
		if victim != 0 {
			promote = targets[:1]
		}
	case victim != 0:
		// Nowhere to hand over to: a leaving voter stays a voter, as one
		// that died would (see Plan, step 6); dead ones go if the group
		// then survives more failures, and otherwise stay until a server
		// can replace them.
		if a, ok := p.shrink(); ok {
			return a, true
		}
		victim = 0
	}
	if len(promote) == 0 {
		return Action{}, false
	}
	return p.promote(promote, victim, why), true
}

// firstSilent returns the first voter that is silent, or 0.
func (p *planner) firstSilent() uint64 {
	for _, v := range p.in.Conf.Voters {
		if p.silent(v) {
			return v
		}
	}
	return 0
}

// spares returns the servers of ranked that are not taken (voters, and
// members passed over), in order.
func spares(ranked []Member, taken func(uint64) bool) []uint64 {
	var out []uint64
	for _, m := range ranked {
		if !taken(m.ID) {
			out = append(out, m.ID)
		}
	}
	return out
}

// lowestUndesired returns the lowest-placed voter in ranked that is not
// in desired, or 0.
func (p *planner) lowestUndesired(ranked, desired []Member) uint64 {
	for i := len(ranked) - 1; i >= 0; i-- {
		id := ranked[i].ID
		if p.isVoter(id) && !slices.ContainsFunc(desired, func(m Member) bool { return m.ID == id }) {
			return id
		}
	}
	return 0
}

// tolerance is how many more failures a group of voters voters, live of
// them alive, survives with a majority alive: negative if it has none now.
func tolerance(live, voters int) int { return live - (voters/2 + 1) }

// shrink removes voters that are dead (missing for ReplaceAfter, and not
// this leader) in one change when no server can replace them: as many as
// leave an odd number of voters, if the group then survives more failures
// (tolerance) and both the old and the new configuration have a live
// majority, which the joint configuration needs to commit. Of five voters
// with two dead the three live stay, and survive one more failure where
// five would survive none; of five with one dead, or three with one dead,
// none goes: four live of five survive one failure, as three of three
// would, and two of three survive none, as one of one would. The dead
// voters removed are the first in the configuration. ok is false if no
// such change helps.
func (p *planner) shrink() (Action, bool) {
	voters := p.in.Conf.Voters
	live := 0
	var dead []uint64
	for _, v := range voters {
		if _, ok := p.live[v]; ok || v == p.in.Self {
			live++
		} else if p.down(v) {
			dead = append(dead, v)
		}
	}
	k := len(dead)
	if (len(voters)-k)%2 == 0 {
		k-- // an even number survives no more failures than one fewer
	}
	if k <= 0 || tolerance(live, len(voters)) < 0 || tolerance(live, len(voters)-k) <= tolerance(live, len(voters)) {
		return Action{}, false
	}
	var changes []raftpb.ConfChangeSingle
	for _, v := range dead[:k] {
		changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: v})
	}
	return Action{Kind: ChangeConf, Why: Shrink, Changes: changes}, true
}

// promote makes the servers of promote voters, each first a learner that
// catches up, in one change that removes victim if it is down or makes
// it a learner if it is moved for balance (victim 0: none). The Action is
// empty while a learner catches up.
func (p *planner) promote(promote []uint64, victim uint64, why StepReason) Action {
	for _, id := range promote {
		if !p.isLearner(id) {
			return Action{Kind: ChangeConf, Why: why, Changes: []raftpb.ConfChangeSingle{addLearner(id)}}
		}
	}
	if slices.ContainsFunc(promote, func(id uint64) bool { return !p.caughtUp(id) }) {
		return Action{} // a learner catches up first
	}
	var changes []raftpb.ConfChangeSingle
	for _, id := range promote {
		changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode, NodeID: id})
	}
	switch {
	case victim == 0:
	case p.down(victim):
		changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: victim})
	default:
		// Moved for balance: it keeps its replica, as a learner.
		changes = append(changes, addLearner(victim))
	}
	return Action{Kind: ChangeConf, Why: why, Changes: changes}
}

// dropLearner removes a learner that is down, to be evicted, or not a
// live server and silent to this leader for ReplaceAfter (goneClient).
func (p *planner) dropLearner() (Action, bool) {
	in, cs := p.in, &p.in.Conf
	for _, l := range cs.Learners {
		var why StepReason
		switch {
		case p.down(l):
			why = DropDown
		case slices.Contains(in.Evict, l):
			why = Evict
		case p.goneClient(l):
			why = DropSilent
		default:
			continue
		}
		return Action{Kind: ChangeConf, Why: why, Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode, NodeID: l}}}, true
	}
	return Action{}, false
}

// dropUnused removes a learner whose node asked to be removed, having no
// use for its replica (PlanInput.Unused), if placement does not want it
// and the group is at full strength: every voter live and heard, and as
// many as placement wants. It is then nobody's replacement: a learner
// catching up for a voter's place is one placement wants, or the spare
// of a voter down, and plan reaches this step only while the voters are
// as they should be.
func (p *planner) dropUnused(desired []Member) (Action, bool) {
	cs := &p.in.Conf
	if len(cs.Voters) < len(desired) || slices.ContainsFunc(cs.Voters, func(v uint64) bool {
		_, live := p.live[v]
		return !live || p.down(v) || p.silent(v)
	}) {
		return Action{}, false
	}
	for _, l := range cs.Learners {
		if slices.Contains(p.in.Unused, l) && !slices.ContainsFunc(desired, func(m Member) bool { return m.ID == l }) {
			return Action{Kind: ChangeConf, Why: DropUnused, Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode, NodeID: l}}}, true
		}
	}
	return Action{}, false
}

// placeLeader moves leadership to the best-ranked voter once it has caught
// up and been heard steadily for SteadyTicks, at most once every
// TransferTicks.
func (p *planner) placeLeader(desired []Member) Action {
	in := p.in
	if len(desired) > 0 && desired[0].ID != in.Self && p.isVoter(desired[0].ID) && p.caughtUp(desired[0].ID) &&
		in.Tick >= in.LastTransfer+TransferTicks && in.Tick >= in.Unsteady[desired[0].ID]+SteadyTicks {
		return Action{Kind: TransferLeader, Why: Place, To: desired[0].ID}
	}
	return Action{}
}

func addLearner(id uint64) raftpb.ConfChangeSingle {
	return raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddLearnerNode, NodeID: id}
}

// reduce takes a group that has more voters than its replication factor
// wants (OddVoters of PlanInput.Replicas, whatever the live servers: the
// factor was lowered since the voters were placed) down to that number in
// one change: first the voters that are not live servers (missing,
// leaving, clients), then those silent to this leader, then the
// lowest-placed, so that the voters kept are the best-placed ones. A live
// voter taken out stays a learner, with its replica, as one moved for
// balance does (its node asks to be removed if nothing uses it there); one
// that is not live is removed. This leader is never taken out: if it
// would be, it hands leadership to the best-placed caught-up voter that
// would stay, which then reduces (this leader among the surplus); with
// none, the next candidate goes instead.
// The change is made only if both the old configuration and the new one
// keep a majority live and caught up, which the joint configuration needs
// to commit: otherwise ok is false, and nothing is taken out until it is
// (a down voter is replaced meanwhile, as always).
func (p *planner) reduce(ranked []Member) (Action, bool) {
	voters := p.in.Conf.Voters
	target := OddVoters(p.in.Replicas, p.in.Replicas)
	if target < 1 || len(voters) <= target {
		return Action{}, false
	}
	order := p.reduceOrder(ranked)
	k := len(voters) - target
	if i := slices.Index(order, p.in.Self); i >= 0 && i < k {
		for _, m := range ranked {
			if v := m.ID; v != p.in.Self && p.isVoter(v) && !slices.Contains(order[:k], v) && p.caughtUp(v) {
				return Action{Kind: TransferLeader, Why: Reduce, To: v}, true
			}
		}
		order = slices.Delete(order, i, i+1)
	}
	victims := order[:k]
	ready := func(v uint64) bool { _, live := p.live[v]; return v == p.in.Self || live && p.caughtUp(v) }
	before, after := 0, 0
	for _, v := range voters {
		if ready(v) {
			before++
			if !slices.Contains(victims, v) {
				after++
			}
		}
	}
	if tolerance(before, len(voters)) < 0 || tolerance(after, target) < 0 {
		return Action{}, false
	}
	var changes []raftpb.ConfChangeSingle
	for _, v := range victims {
		if _, live := p.live[v]; live {
			changes = append(changes, addLearner(v)) // a learner, with its replica
		} else {
			changes = append(changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: v})
		}
	}
	return Action{Kind: ChangeConf, Why: Reduce, Changes: changes}, true
}

// reduceOrder lists the voters in the order reduce takes them out: those
// that are not ranked servers (missing, leaving, clients) first, in the
// configuration's order, then those silent to this leader, then the
// others, the lowest-placed first. This leader is among them.
func (p *planner) reduceOrder(ranked []Member) []uint64 {
	voters := p.in.Conf.Voters
	var order []uint64
	for _, v := range voters {
		if !slices.ContainsFunc(ranked, func(m Member) bool { return m.ID == v }) {
			order = append(order, v)
		}
	}
	for _, v := range voters {
		if p.silent(v) && !slices.Contains(order, v) {
			order = append(order, v)
		}
	}
	for i := len(ranked) - 1; i >= 0; i-- {
		if v := ranked[i].ID; p.isVoter(v) && !slices.Contains(order, v) {
			order = append(order, v)
		}
	}
	return order
}
