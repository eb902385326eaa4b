package engine

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

const (
	testHeap     = "bank"
	replaceAfter = 30 * time.Second
	commit       = 1000
	client       = 100 // a client node's ID
	client2      = 101
)

var (
	now      = time.Unix(1_700_000_000, 0)
	planSeed = flag.Uint64("plan.seed", 0, "run the randomized planning test with this seed (0: from the clock)")
)

// group is a steady group of three voters over five live servers s1..s5,
// led by the best-placed one: r[i] is the server placed i-th for the heap.
func group() (PlanInput, []uint64) {
	var live []Member
	for i := 1; i <= 5; i++ {
		live = append(live, Member{ID: uint64(i), Name: fmt.Sprintf("s%d", i), Server: true})
	}
	var r []uint64
	for _, m := range Rank(testHeap, live) {
		r = append(r, m.ID)
	}
	in := PlanInput{
		Heap:         testHeap,
		Self:         r[0],
		Replicas:     3,
		Leader:       true,
		Conf:         raftpb.ConfState{Voters: sorted(r[0], r[1], r[2])},
		Commit:       commit,
		Match:        map[uint64]uint64{},
		Tick:         1000,
		Live:         live,
		Now:          now,
		Missing:      map[uint64]time.Time{},
		ReplaceAfter: replaceAfter,
	}
	for _, id := range r {
		in.Match[id] = commit
	}
	return in, r
}

func sorted(ids ...uint64) []uint64 { slices.Sort(ids); return ids }

// kill makes a node missing from membership for d.
func kill(in *PlanInput, id uint64, d time.Duration) {
	in.Live = slices.DeleteFunc(slices.Clone(in.Live), func(m Member) bool { return m.ID == id })
	in.Missing[id] = now.Add(-d)
	delete(in.Match, id)
}

// leave marks a live node as leaving.
func leave(in *PlanInput, id uint64) {
	in.Live = slices.Clone(in.Live)
	for i := range in.Live {
		if in.Live[i].ID == id {
			in.Live[i].Leaving = true
		}
	}
}

// drop takes a server out of membership altogether, as if it never existed.
func drop(in *PlanInput, id uint64) {
	in.Live = slices.DeleteFunc(slices.Clone(in.Live), func(m Member) bool { return m.ID == id })
}

func addClient(in *PlanInput, id uint64) {
	in.Live = append(slices.Clone(in.Live), Member{ID: id, Name: fmt.Sprintf("c%d", id)})
}

func change(t raftpb.ConfChangeType, id uint64) raftpb.ConfChangeSingle {
	return raftpb.ConfChangeSingle{Type: t, NodeID: id}
}

func conf(why StepReason, cs ...raftpb.ConfChangeSingle) Action {
	return Action{Kind: ChangeConf, Why: why, Changes: cs}
}

const (
	addNode   = raftpb.ConfChangeAddNode
	addLearn  = raftpb.ConfChangeAddLearnerNode
	removeAny = raftpb.ConfChangeRemoveNode
)

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   func(in *PlanInput, r []uint64)
		want func(r []uint64) Action
	}{
		{
			name: "a steady group is left alone",
			in:   func(in *PlanInput, r []uint64) {},
			want: func(r []uint64) Action { return Action{} },
		},
		// Replacing a dead voter.
		{
			name: "a voter dead for ReplaceAfter is replaced by the best-placed spare, added as a learner first",
			in:   func(in *PlanInput, r []uint64) { kill(in, r[1], replaceAfter) },
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[3])) },
		},
		{
			name: "a voter missing for less than ReplaceAfter is not replaced",
			in:   func(in *PlanInput, r []uint64) { kill(in, r[1], replaceAfter-time.Millisecond) },
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a voter missing that this leader has only just noticed is not replaced",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], 0)
				delete(in.Missing, r[1])
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a caught-up replacement is promoted and the dead voter removed in one change",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Conf.Learners = []uint64{r[3]}
				in.Match[r[3]] = commit - CaughtUpSlack
			},
			want: func(r []uint64) Action { return conf(Replace, change(addNode, r[3]), change(removeAny, r[1])) },
		},
		{
			name: "a replacement that trails the commit index by more than CaughtUpSlack is not promoted yet",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Conf.Learners = []uint64{r[3]}
				in.Match[r[3]] = commit - CaughtUpSlack - 1
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a replacement the leader has no progress for is not promoted",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Conf.Learners = []uint64{r[3]}
				delete(in.Match, r[3])
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a replacement that has acknowledged nothing is not promoted, however young the log",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Conf.Learners = []uint64{r[3]}
				in.Commit = CaughtUpSlack / 2
				for id := range in.Match {
					in.Match[id] = in.Commit
				}
				in.Match[r[3]] = 0
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a dead voter no server can replace stays: the group keeps its quorum of the others",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[3])
				drop(in, r[4])
				kill(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		// Leaving.
		{
			name: "a leaving voter is replaced at once",
			in:   func(in *PlanInput, r []uint64) { leave(in, r[2]) },
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[3])) },
		},
		{
			name: "a leaving voter no server can replace stays a voter, as one that died would",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[3])
				drop(in, r[4])
				leave(in, r[1])
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "two leaving voters no server can replace stay voters: the whole cluster stops",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[3])
				drop(in, r[4])
				leave(in, r[1])
				leave(in, r[2])
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a leaving voter stays while another voter is missing: the group keeps its quorum",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[3])
				drop(in, r[4])
				leave(in, r[1])
				kill(in, r[2], time.Second)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a leaving leader hands leadership to a caught-up live voter",
			in:   func(in *PlanInput, r []uint64) { leave(in, r[0]) },
			want: func(r []uint64) Action {
				return Action{Kind: TransferLeader, Why: HandOver, To: sorted(r[1], r[2])[0]}
			},
		},
		{
			name: "a leaving leader does not hand leadership to a voter that trails",
			in: func(in *PlanInput, r []uint64) {
				leave(in, r[0])
				in.Match[sorted(r[1], r[2])[0]] = commit - CaughtUpSlack - 1
			},
			want: func(r []uint64) Action {
				return Action{Kind: TransferLeader, Why: HandOver, To: sorted(r[1], r[2])[1]}
			},
		},
		{
			name: "a leaving leader with no voter to hand over to has itself replaced",
			in: func(in *PlanInput, r []uint64) {
				leave(in, r[0])
				in.Match[r[1]], in.Match[r[2]] = 0, 0
			},
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[3])) },
		},
		// Growing and rebalancing.
		{
			name: "a group of one grows to three in one change, both learners caught up",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: []uint64{r[0]}, Learners: sorted(r[1], r[2])}
			},
			want: func(r []uint64) Action { return conf(Grow, change(addNode, r[1]), change(addNode, r[2])) },
		},
		{
			name: "a group of one adds its future voters as learners first",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: []uint64{r[0]}, Learners: []uint64{r[1]}}
			},
			want: func(r []uint64) Action { return conf(Grow, change(addLearn, r[2])) },
		},
		{
			name: "a group never grows to an even number of voters",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[2])
				drop(in, r[3])
				drop(in, r[4])
				in.Conf = raftpb.ConfState{Voters: []uint64{r[0]}}
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a better-placed server takes the lowest-placed voter's place; that voter stays a learner",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[1], r[3]), Learners: []uint64{r[2]}}
			},
			want: func(r []uint64) Action { return conf(Rebalance, change(addNode, r[2]), change(addLearn, r[3])) },
		},
		{
			name: "no rebalance while a voter is missing",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[1], r[4]), Learners: []uint64{r[2]}}
				kill(in, r[1], time.Second)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a voter that was replaced and came back live is added back where placement wants it",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[2], r[3])}
			},
			want: func(r []uint64) Action { return conf(Rebalance, change(addLearn, r[1])) },
		},
		// Learners.
		{
			name: "a learner missing for ReplaceAfter is removed",
			in: func(in *PlanInput, r []uint64) {
				in.Conf.Learners = []uint64{client}
				in.Missing[client] = now.Add(-replaceAfter)
			},
			want: func(r []uint64) Action { return conf(DropDown, change(removeAny, client)) },
		},
		{
			name: "a learner missing for less than ReplaceAfter stays",
			in: func(in *PlanInput, r []uint64) {
				in.Conf.Learners = []uint64{client}
				in.Missing[client] = now.Add(-time.Second)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a leaving learner is removed at once",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				leave(in, client)
				in.Conf.Learners = []uint64{client}
			},
			want: func(r []uint64) Action { return conf(DropDown, change(removeAny, client)) },
		},
		{
			name: "a client that may no longer read the heap is removed",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				addClient(in, client2)
				in.Conf.Learners = []uint64{client, client2}
				in.Evict = []uint64{client2}
			},
			want: func(r []uint64) Action { return conf(Evict, change(removeAny, client2)) },
		},
		{
			name: "a client learner that may read the heap stays, and is never promoted",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				in.Conf.Learners = []uint64{client}
				in.Conf.Voters = []uint64{r[0]}
			},
			want: func(r []uint64) Action { return conf(Grow, change(addLearn, r[1])) },
		},
		// Joins.
		{
			name: "a node that asks to join is added as a learner",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				in.Joins = []uint64{client}
			},
			want: func(r []uint64) Action {
				return Action{Kind: ChangeConf, Why: Join, Changes: []raftpb.ConfChangeSingle{change(addLearn, client)}, Consumed: 1}
			},
		},
		{
			name: "a node membership has never shown is taken: its request is a sign of life",
			in:   func(in *PlanInput, r []uint64) { in.Joins = []uint64{client} },
			want: func(r []uint64) Action {
				return Action{Kind: ChangeConf, Why: Join, Changes: []raftpb.ConfChangeSingle{change(addLearn, client)}, Consumed: 1}
			},
		},
		{
			name: "a removed node that is back asks and is added again",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client) // live again: membership no longer misses it
				in.Joins = []uint64{client}
				delete(in.Missing, client)
			},
			want: func(r []uint64) Action {
				return Action{Kind: ChangeConf, Why: Join, Changes: []raftpb.ConfChangeSingle{change(addLearn, client)}, Consumed: 1}
			},
		},
		{
			name: "a join from a node gone for ReplaceAfter is refused: it would be removed again at once",
			in: func(in *PlanInput, r []uint64) {
				in.Joins = []uint64{client}
				in.Missing[client] = now.Add(-replaceAfter)
			},
			want: func(r []uint64) Action { return Action{Consumed: 1} },
		},
		{
			name: "a join from a leaving node is refused",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				leave(in, client)
				in.Joins = []uint64{client}
			},
			want: func(r []uint64) Action { return Action{Consumed: 1} },
		},
		{
			name: "a join from a member changes nothing",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				in.Conf.Learners = []uint64{client}
				in.Joins = []uint64{client, r[1]}
			},
			want: func(r []uint64) Action { return Action{Consumed: 2} },
		},
		{
			name: "of two joins the first is added and the second kept for the next step",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				addClient(in, client2)
				in.Joins = []uint64{client, client2}
			},
			want: func(r []uint64) Action {
				return Action{Kind: ChangeConf, Why: Join, Changes: []raftpb.ConfChangeSingle{change(addLearn, client)}, Consumed: 1}
			},
		},
		{
			name: "a join comes before replacing a dead voter",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Joins = []uint64{client}
			},
			want: func(r []uint64) Action {
				return Action{Kind: ChangeConf, Why: Join, Changes: []raftpb.ConfChangeSingle{change(addLearn, client)}, Consumed: 1}
			},
		},
		// Leadership.
		{
			name: "leadership moves to the best-placed voter once it is caught up",
			in:   func(in *PlanInput, r []uint64) { in.Self = r[1] },
			want: func(r []uint64) Action { return Action{Kind: TransferLeader, Why: Place, To: r[0]} },
		},
		{
			name: "leadership does not move to a best-placed voter that trails",
			in: func(in *PlanInput, r []uint64) {
				in.Self = r[1]
				in.Match[r[0]] = commit - CaughtUpSlack - 1
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "leadership moves for placement at most every TransferTicks",
			in: func(in *PlanInput, r []uint64) {
				in.Self = r[1]
				in.LastTransfer = in.Tick - TransferTicks + 1
			},
			want: func(r []uint64) Action { return Action{} },
		},
		// When nothing is planned.
		{
			name: "a follower plans nothing, and keeps the join requests",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Leader = false
				in.Joins = []uint64{client}
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "nothing is planned while a leadership transfer is under way",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Transferring = true
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "nothing is planned while a proposed change is awaited",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.WaitUntil = in.Tick + 1
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "nothing is planned in a joint configuration",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				in.Conf.VotersOutgoing = slices.Clone(in.Conf.Voters)
			},
			want: func(r []uint64) Action { return Action{} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, r := group()
			tc.in(&in, r)
			got, want := Plan(in), tc.want(r)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("placement %v, voters %v, learners %v:\ngot  %s\nwant %s", r, in.Conf.Voters, in.Conf.Learners, show(got), show(want))
			}
		})
	}
}

func show(a Action) string {
	switch a.Kind {
	case ChangeConf:
		return fmt.Sprintf("%s: %v (joins settled %d)", a.Why, a.Changes, a.Consumed)
	case TransferLeader:
		return fmt.Sprintf("%s: transfer leadership to %d", a.Why, a.To)
	}
	return fmt.Sprintf("nothing (joins settled %d)", a.Consumed)
}

// TestRankIsStable: every node, of every version, places a heap's voters
// on the same servers; a change of the hash would move every heap at an
// upgrade.
func TestRankIsStable(t *testing.T) {
	var live []Member
	for i := 1; i <= 5; i++ {
		live = append(live, Member{ID: uint64(i), Name: fmt.Sprintf("s%d", i), Server: true})
	}
	live = append(live, Member{ID: 6, Name: "c6"}, Member{ID: 7, Name: "s7", Server: true, Leaving: true})
	var got []uint64
	for _, m := range Rank(testHeap, live) {
		got = append(got, m.ID)
	}
	if want := []uint64{5, 3, 4, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("placement of %q: %v, want %v (clients and leaving servers left out)", testHeap, got, want)
	}
	slices.Reverse(live)
	var again []uint64
	for _, m := range Rank(testHeap, live) {
		again = append(again, m.ID)
	}
	if !slices.Equal(again, got) {
		t.Errorf("placement depends on the order membership lists nodes: %v, then %v", got, again)
	}
}

func TestOddVoters(t *testing.T) {
	for _, tc := range []struct{ replicas, servers, want int }{
		{3, 5, 3}, {3, 2, 1}, {3, 1, 1}, {5, 4, 3}, {5, 7, 5}, {4, 9, 3}, {3, 0, 0}, {0, 3, 0},
	} {
		if got := OddVoters(tc.replicas, tc.servers); got != tc.want {
			t.Errorf("OddVoters(%d replicas, %d servers) = %d, want %d", tc.replicas, tc.servers, got, tc.want)
		}
	}
}

// TestPlanKeepsQuorumAndConverges drives random groups step by step, each
// step carried out at once and every learner catching up at once, and
// checks every step: no change leaves the group without a quorum of live
// voters, a voter is removed only with a replacement in the same change
// (or dead ones as checkShrink allows; a leaving one never), only caught-up learners are promoted, leadership
// goes only to a caught-up live voter. When the
// plan runs out of steps the voters are the placement's and no learner is
// down.
func TestPlanKeepsQuorumAndConverges(t *testing.T) {
	seed := *planSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d (rerun with -plan.seed)", seed)
	var seen [len(reasons)]int
	for run := 0; run < 2000; run++ {
		in := randomGroup(rng)
		start := fmt.Sprintf("%+v", in)
		for step := 0; ; step++ {
			if step == 50 {
				t.Fatalf("seed %d run %d: no steady state after 50 steps from %s", seed, run, start)
			}
			a := Plan(in)
			if err := checkStep(&in, a); err != nil {
				t.Fatalf("seed %d run %d step %d: %s: %v\nfrom %s\nnow %+v", seed, run, step, show(a), err, start, in)
			}
			if a.Kind == Nothing {
				if err := checkSteady(&in); err != nil {
					t.Fatalf("seed %d run %d: steady after %d steps, but %v\nfrom %s\nnow %+v", seed, run, step, err, start, in)
				}
				break
			}
			seen[a.Why]++
			carryOut(&in, a)
		}
	}
	t.Logf("steps taken: %v", seen)
	for why := Join; why <= Place; why++ {
		if seen[why] == 0 {
			t.Errorf("seed %d: no step to %s in 2000 groups: the test no longer covers it", seed, why)
		}
	}
}

// randomGroup is a group over up to 7 servers, some dead for long, some
// leaving, and two clients, led by a live server, with join requests and
// learners that may no longer read.
func randomGroup(rng *rand.Rand) PlanInput {
	in := PlanInput{
		Heap:         fmt.Sprintf("h%d", rng.IntN(1000)),
		Replicas:     []int{1, 3, 5}[rng.IntN(3)],
		Leader:       true,
		Commit:       commit,
		Match:        map[uint64]uint64{},
		Tick:         1000,
		Now:          now,
		Missing:      map[uint64]time.Time{},
		ReplaceAfter: replaceAfter,
	}
	n := 1 + rng.IntN(7)
	for i := 1; i <= n+2; i++ {
		id := uint64(i)
		m := Member{ID: id, Name: fmt.Sprintf("n%d", i), Server: i <= n}
		if i == 1 {
			in.Self = id
			m.Leaving = rng.IntN(8) == 0
		} else if rng.IntN(4) == 0 {
			in.Missing[id] = now.Add(-time.Hour)
			continue
		} else if rng.IntN(8) == 0 {
			m.Leaving = true
		}
		in.Live = append(in.Live, m)
	}
	in.Conf.Voters = []uint64{in.Self}
	for i := 2; i <= n; i++ {
		if rng.IntN(3) == 0 && len(in.Conf.Voters) < in.Replicas {
			in.Conf.Voters = append(in.Conf.Voters, uint64(i))
		}
	}
	for i := 2; i <= n+2; i++ {
		if !slices.Contains(in.Conf.Voters, uint64(i)) && rng.IntN(3) == 0 {
			in.Conf.Learners = append(in.Conf.Learners, uint64(i))
		}
	}
	for _, id := range slices.Concat(in.Conf.Voters, in.Conf.Learners) {
		if in.Missing[id].IsZero() {
			in.Match[id] = commit
		}
	}
	for i := n + 1; i <= n+2; i++ {
		switch id := uint64(i); {
		case rng.IntN(3) == 0:
			in.Joins = append(in.Joins, id)
		case rng.IntN(3) == 0 && slices.Contains(in.Conf.Learners, id):
			in.Evict = append(in.Evict, id)
		}
	}
	return in
}

// carryOut applies a step: a change at once, a new learner caught up at
// once, a transfer making its target the leader.
func carryOut(in *PlanInput, a Action) {
	in.Joins = in.Joins[a.Consumed:]
	switch a.Kind {
	case TransferLeader:
		in.Self = a.To
		in.LastTransfer = in.Tick
	case ChangeConf:
		cs := &in.Conf
		for _, c := range a.Changes {
			cs.Voters = slices.DeleteFunc(cs.Voters, func(id uint64) bool { return id == c.NodeID })
			cs.Learners = slices.DeleteFunc(cs.Learners, func(id uint64) bool { return id == c.NodeID })
			switch c.Type {
			case raftpb.ConfChangeAddNode:
				cs.Voters = append(cs.Voters, c.NodeID)
			case raftpb.ConfChangeAddLearnerNode:
				cs.Learners = append(cs.Learners, c.NodeID)
				in.Match[c.NodeID] = in.Commit
			}
		}
		slices.Sort(cs.Voters)
		slices.Sort(cs.Learners)
		if !slices.Contains(cs.Voters, in.Self) {
			in.Leader = false // removed itself: another leads; stop here
		}
	}
	in.Tick += TransferTicks
}

func checkStep(in *PlanInput, a Action) error {
	p := newPlanner(in)
	alive := func(id uint64) bool { _, ok := p.live[id]; return ok }
	switch a.Kind {
	case TransferLeader:
		if m, ok := p.live[a.To]; !ok || m.Leaving || !p.isVoter(a.To) || !p.caughtUp(a.To) || a.To == in.Self {
			return fmt.Errorf("leadership to %d, not a caught-up live voter", a.To)
		}
	case ChangeConf:
		before, after := slices.Clone(in.Conf.Voters), slices.Clone(in.Conf.Voters)
		var added, removed int
		for _, c := range a.Changes {
			was := slices.Contains(after, c.NodeID)
			after = slices.DeleteFunc(after, func(id uint64) bool { return id == c.NodeID })
			switch {
			case c.Type == raftpb.ConfChangeAddNode:
				if !p.isLearner(c.NodeID) || !p.caughtUp(c.NodeID) {
					return fmt.Errorf("promoted %d, not a caught-up learner", c.NodeID)
				}
				after = append(after, c.NodeID)
				added++
			case was:
				removed++
			}
		}
		if removed > added {
			if err := checkShrink(p, a, before, after); err != nil {
				return fmt.Errorf("voters %v lose %d and gain %d: %v", before, removed, added, err)
			}
		}
		liveBefore := len(slices.DeleteFunc(slices.Clone(before), func(id uint64) bool { return !alive(id) }))
		liveAfter := len(slices.DeleteFunc(slices.Clone(after), func(id uint64) bool { return !alive(id) }))
		if liveBefore > len(before)/2 && liveAfter <= len(after)/2 {
			return fmt.Errorf("voters %v with a live quorum become %v without one", before, after)
		}
		if a.Why == Join && (p.isVoter(a.Changes[0].NodeID) || p.isLearner(a.Changes[0].NodeID)) {
			return fmt.Errorf("joined a member")
		}
	}
	return nil
}

func checkSteady(in *PlanInput) error {
	if !in.Leader {
		return nil // the leader removed itself; the next one carries on
	}
	p := newPlanner(in)
	ranked := Rank(in.Heap, in.Live)
	want := OddVoters(in.Replicas, len(ranked))
	var desired []uint64
	for _, m := range ranked[:want] {
		desired = append(desired, m.ID)
	}
	for _, id := range desired {
		if !p.isVoter(id) {
			return fmt.Errorf("%d is placed but no voter", id)
		}
	}
	if len(desired) > 0 && in.Self != desired[0] {
		return fmt.Errorf("%d leads, not the best-placed voter %d", in.Self, desired[0])
	}
	for _, l := range in.Conf.Learners {
		if p.down(l) {
			return fmt.Errorf("learner %d is down", l)
		}
	}
	return nil
}

// TestTwoDeadVotersAreReplacedInTurn: of two voters down at once, the
// second is replaced right after the first, one change at a time, each
// promoted with the removal it replaces.
func TestTwoDeadVotersAreReplacedInTurn(t *testing.T) {
	var live []Member
	for i := 1; i <= 7; i++ {
		live = append(live, Member{ID: uint64(i), Name: fmt.Sprintf("s%d", i), Server: true})
	}
	var r []uint64
	for _, m := range Rank(testHeap, live) {
		r = append(r, m.ID)
	}
	in := PlanInput{
		Heap: testHeap, Self: r[0], Replicas: 5, Leader: true,
		Conf:   raftpb.ConfState{Voters: sorted(r[0], r[1], r[2], r[3], r[4])},
		Commit: commit, Match: map[uint64]uint64{}, Tick: 1000,
		Live: live, Now: now, Missing: map[uint64]time.Time{}, ReplaceAfter: replaceAfter,
	}
	for _, id := range r {
		in.Match[id] = commit
	}
	kill(&in, r[1], replaceAfter)
	kill(&in, r[2], replaceAfter)
	first, second := min(r[1], r[2]), max(r[1], r[2]) // the first down voter in the configuration goes first
	for i, want := range []Action{
		conf(Replace, change(addLearn, r[5])),
		conf(Replace, change(addNode, r[5]), change(removeAny, first)),
		conf(Replace, change(addLearn, r[6])),
		conf(Replace, change(addNode, r[6]), change(removeAny, second)),
		{},
	} {
		got := Plan(in)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: got %s, want %s", i, show(got), show(want))
		}
		carryOut(&in, got)
	}
	if want := sorted(r[0], r[3], r[4], r[5], r[6]); !slices.Equal(in.Conf.Voters, want) {
		t.Errorf("voters %v, want %v", in.Conf.Voters, want)
	}
}
