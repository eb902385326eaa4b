package engine

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// TestPlanReduce: a group with more voters than its replication factor
// (lowered since) takes the surplus out in one change, the lowest-placed
// first after those not live, keeping the live ones as learners; never
// its leader, which hands over first; and only while the old and the new
// configuration both keep a majority live and caught up.
func TestPlanReduce(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		servers, replicas, voters int
		in                        func(in *PlanInput, r []uint64)
		want                      func(r []uint64) Action
	}{
		{
			name:    "five voters, factor 3: the two lowest-placed become learners",
			servers: 5, replicas: 3, voters: 5,
			want: func(r []uint64) Action { return conf(Reduce, change(addLearn, r[4]), change(addLearn, r[3])) },
		},
		{
			name:    "five voters, factor 4 (one fewer, 3): the same",
			servers: 5, replicas: 4, voters: 5,
			want: func(r []uint64) Action { return conf(Reduce, change(addLearn, r[4]), change(addLearn, r[3])) },
		},
		{
			name:    "five voters, factor 1: all but the leader",
			servers: 5, replicas: 1, voters: 5,
			want: func(r []uint64) Action {
				return conf(Reduce, change(addLearn, r[4]), change(addLearn, r[3]), change(addLearn, r[2]), change(addLearn, r[1]))
			},
		},
		{
			name:    "a dead voter goes first, removed",
			servers: 5, replicas: 3, voters: 5,
			in:   func(in *PlanInput, r []uint64) { kill(in, r[1], time.Hour) },
			want: func(r []uint64) Action { return conf(Reduce, change(removeAny, r[1]), change(addLearn, r[4])) },
		},
		{
			name:    "a voter missing for a moment goes first too: the group needs it no more",
			servers: 5, replicas: 3, voters: 5,
			in:   func(in *PlanInput, r []uint64) { kill(in, r[2], 0) },
			want: func(r []uint64) Action { return conf(Reduce, change(removeAny, r[2]), change(addLearn, r[4])) },
		},
		{
			name:    "a leaving voter goes first, kept a learner as it hands over",
			servers: 5, replicas: 3, voters: 5,
			in:   func(in *PlanInput, r []uint64) { leave(in, r[1]) },
			want: func(r []uint64) Action { return conf(Reduce, change(addLearn, r[1]), change(addLearn, r[4])) },
		},
		{
			name:    "two dead of five, factor 3: both removed, the three live stay",
			servers: 5, replicas: 3, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[3], time.Hour)
				kill(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return conf(Reduce, change(removeAny, r[1]), change(removeAny, r[3])) },
		},
		{
			name:    "three dead of five: no live majority, nothing changes",
			servers: 5, replicas: 3, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				kill(in, r[3], time.Hour)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "the leader placed lowest hands leadership to the best-placed voter that stays",
			servers: 5, replicas: 3, voters: 5,
			in:   func(in *PlanInput, r []uint64) { in.Self = r[4] },
			want: func(r []uint64) Action { return Action{Kind: TransferLeader, Why: Reduce, To: r[0]} },
		},
		{
			name:    "the leader placed lowest, the best-placed voter behind: the next that stays takes the lead",
			servers: 5, replicas: 3, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				in.Self = r[4]
				in.Match[r[0]] = 0
			},
			want: func(r []uint64) Action { return Action{Kind: TransferLeader, Why: Reduce, To: r[1]} },
		},
		{
			name:    "the leader placed lowest, every voter that would stay behind: none takes the lead, and none would commit",
			servers: 5, replicas: 3, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				in.Self = r[4]
				in.Match[r[0]], in.Match[r[1]], in.Match[r[2]] = 0, 0, 0
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "factor 1, the leader placed second: it hands the lead to the best placed",
			servers: 5, replicas: 1, voters: 3,
			in:   func(in *PlanInput, r []uint64) { in.Self = r[1] },
			want: func(r []uint64) Action { return Action{Kind: TransferLeader, Why: Reduce, To: r[0]} },
		},
		{
			name:    "factor 1, the others behind: the leader stays the one voter, the next voter goes instead",
			servers: 5, replicas: 1, voters: 3,
			in: func(in *PlanInput, r []uint64) {
				in.Self = r[1]
				in.Match[r[0]] = 0
			},
			want: func(r []uint64) Action { return conf(Reduce, change(addLearn, r[2]), change(addLearn, r[0])) },
		},
		{
			name:    "a majority of the voters that would stay behind: nothing yet",
			servers: 5, replicas: 3, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				in.Match[r[1]] = commit - CaughtUpSlack - 1
				in.Match[r[2]] = 0
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "voters as many as the factor: nothing to reduce",
			servers: 5, replicas: 5, voters: 5,
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "a factor above the live servers reduces nothing: voters down are replaced or shrunk as before",
			servers: 5, replicas: 5, voters: 5,
			in:   func(in *PlanInput, r []uint64) { kill(in, r[2], time.Hour) },
			want: func(r []uint64) Action { return Action{} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, r := wideGroup(tc.servers, tc.replicas, tc.voters)
			if tc.in != nil {
				tc.in(&in, r)
			}
			got, want := Plan(in), tc.want(r)
			if got.Kind == ChangeConf {
				// Compared as sets: the order of a change's parts does not matter.
				slices.SortFunc(got.Changes, func(a, b raftpb.ConfChangeSingle) int { return int(a.NodeID) - int(b.NodeID) })
				slices.SortFunc(want.Changes, func(a, b raftpb.ConfChangeSingle) int { return int(a.NodeID) - int(b.NodeID) })
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %s, want %s", show(got), show(want))
			}
		})
	}
}

// TestPlanFollowsAFactorChange: groups over five to nine servers, led by
// any voter, their factor changed to every other one from 1 to 9 and
// planned step by step (carried out at once, learners caught up at once):
// every step keeps a live majority of the old and the new voters, no step
// removes the leader, and the steps end with the voters placement wants
// for the new factor, led by the best placed.
func TestPlanFollowsAFactorChange(t *testing.T) {
	for servers := 5; servers <= 9; servers++ {
		for from := 1; from <= 9; from++ {
			for to := 1; to <= 9; to++ {
				voters := OddVoters(from, servers)
				for lead := 0; lead < voters; lead++ {
					name := fmt.Sprintf("%d servers, %d to %d, led by the voter placed %d", servers, from, to, lead)
					in, r := wideGroup(servers, to, voters)
					in.Self = r[lead]
					if err := followFactor(&in); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}
		}
	}
}

// followFactor plans in until it has nothing to do.
func followFactor(in *PlanInput) error {
	for step := 0; step < 50; step++ {
		a := Plan(*in)
		switch a.Kind {
		case Nothing:
			if len(in.Conf.Voters) > OddVoters(in.Replicas, in.Replicas) {
				return fmt.Errorf("steady with voters %v over the factor", in.Conf.Voters)
			}
			return checkSteady(in)
		case ChangeConf:
			before := slices.Clone(in.Conf.Voters)
			carryOut(in, a)
			if !in.Leader {
				return fmt.Errorf("%s took the leader out", show(a))
			}
			for _, vs := range [][]uint64{before, in.Conf.Voters} {
				if live := len(slices.DeleteFunc(slices.Clone(vs), func(id uint64) bool { return in.Match[id] == 0 })); live <= len(vs)/2 {
					return fmt.Errorf("%s: voters %v to %v, %v without a caught-up majority", show(a), before, in.Conf.Voters, vs)
				}
			}
		case TransferLeader:
			carryOut(in, a)
		}
	}
	return fmt.Errorf("no steady state after 50 steps: voters %v", in.Conf.Voters)
}
