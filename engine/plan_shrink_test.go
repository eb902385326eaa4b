package engine

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// wideGroup is a steady group of the voters best placed over servers live
// servers s1..sN, led by the best-placed one, wanting replicas voters:
// r[i] is the server placed i-th for the heap.
func wideGroup(servers, replicas, voters int) (PlanInput, []uint64) {
	var live []Member
	for i := 1; i <= servers; i++ {
		live = append(live, Member{ID: uint64(i), Name: fmt.Sprintf("s%d", i), Server: true})
	}
	var r []uint64
	for _, m := range Rank(testHeap, live) {
		r = append(r, m.ID)
	}
	in := PlanInput{
		Heap: testHeap, Self: r[0], Replicas: replicas, Leader: true,
		Conf:   raftpb.ConfState{Voters: sorted(slices.Clone(r[:voters])...)},
		Commit: commit, Match: map[uint64]uint64{}, Tick: 1000,
		Live: live, Now: now, Missing: map[uint64]time.Time{}, ReplaceAfter: replaceAfter,
	}
	for _, id := range r {
		in.Match[id] = commit
	}
	return in, r
}

func removals(ids ...uint64) Action {
	var cs []raftpb.ConfChangeSingle
	for _, id := range sorted(ids...) {
		cs = append(cs, change(removeAny, id))
	}
	return conf(Shrink, cs...)
}

// TestPlanShrink: dead voters no server can replace are removed, in one
// change, when the group then survives more failures, the voters stay an
// odd number, and the old and the new configuration both keep a live
// majority; otherwise they stay.
func TestPlanShrink(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		servers, replicas, voters int
		in                        func(in *PlanInput, r []uint64)
		want                      func(r []uint64) Action
	}{
		{
			name:    "five voters with two dead and no spare shrink to the three live, in one change",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], replaceAfter)
				kill(in, r[3], time.Hour)
			},
			want: func(r []uint64) Action { return removals(r[1], r[3]) },
		},
		{
			name:    "five voters with one dead and no spare stay: four live of five survive one failure, as three of three would",
			servers: 5, replicas: 5, voters: 5,
			in:   func(in *PlanInput, r []uint64) { kill(in, r[2], time.Hour) },
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "three voters with one dead and no spare stay: one voter would survive no failure either",
			servers: 3, replicas: 3, voters: 3,
			in:   func(in *PlanInput, r []uint64) { kill(in, r[1], time.Hour) },
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "a dead voter missing for less than ReplaceAfter stays, and keeps the other from going alone",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[3], replaceAfter-time.Millisecond)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "a voter missing that this leader has only just noticed is not removed",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[3], 0)
				delete(in.Missing, r[3])
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "dead voters a live server can take the place of are replaced, not removed",
			servers: 7, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[3], time.Hour)
			},
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[5])) },
		},
		{
			name:    "a group without a live majority changes nothing: the joint configuration could not commit",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				kill(in, r[3], time.Hour)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "seven voters with two dead and no spare shrink to five, which survive two failures",
			servers: 7, replicas: 7, voters: 7,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[2], time.Hour)
				kill(in, r[6], time.Hour)
			},
			want: func(r []uint64) Action { return removals(r[2], r[6]) },
		},
		{
			name:    "seven voters with three dead and no spare lose two of them, the first in the configuration: five voters stay, odd",
			servers: 7, replicas: 7, voters: 7,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[3], time.Hour)
				kill(in, r[5], time.Hour)
			},
			want: func(r []uint64) Action { return removals(sorted(r[1], r[3], r[5])[:2]...) },
		},
		{
			name:    "the leader is never removed, even missing from its own membership",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[0], time.Hour)
				kill(in, r[1], time.Hour)
				kill(in, r[4], time.Hour)
			},
			want: func(r []uint64) Action { return removals(r[1], r[4]) },
		},
		{
			name:    "a leaving voter counts as live: the dead go, the leaving one stays",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				leave(in, r[3])
			},
			want: func(r []uint64) Action { return removals(r[1], r[2]) },
		},
		{
			name:    "a join comes before a shrink",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				in.Joins = []uint64{client}
			},
			want: func(r []uint64) Action {
				return Action{Kind: ChangeConf, Why: Join, Changes: []raftpb.ConfChangeSingle{change(addLearn, client)}, Consumed: 1}
			},
		},
		// A shrink waits as every other change does.
		{
			name:    "no shrink while a proposed change is awaited",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				in.WaitUntil = in.Tick + 1
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "no shrink in a joint configuration",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				in.Conf.VotersOutgoing = slices.Clone(in.Conf.Voters)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "no shrink while leadership is being transferred",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				in.Transferring = true
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:    "a follower plans no shrink",
			servers: 5, replicas: 5, voters: 5,
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Hour)
				kill(in, r[2], time.Hour)
				in.Leader = false
			},
			want: func(r []uint64) Action { return Action{} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, r := wideGroup(tc.servers, tc.replicas, tc.voters)
			tc.in(&in, r)
			got, want := Plan(in), tc.want(r)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("placement %v, voters %v, live %v:\ngot  %s\nwant %s", r, in.Conf.Voters, in.Live, show(got), show(want))
			}
		})
	}
}

// planUntilSteady carries out the plan's steps until it has none, and
// returns their reasons.
func planUntilSteady(t *testing.T, in *PlanInput) []StepReason {
	t.Helper()
	var whys []StepReason
	for step := 0; ; step++ {
		if step == 20 {
			t.Fatalf("no steady state after 20 steps: %s, voters %v", whys, in.Conf.Voters)
		}
		a := Plan(*in)
		if err := checkStep(in, a); err != nil {
			t.Fatalf("step %d: %s: %v", step, show(a), err)
		}
		if a.Kind == Nothing {
			return whys
		}
		whys = append(whys, a.Why)
		carryOut(in, a)
	}
}

// TestShrinkThenGrowBack: five voters over five servers lose two for
// good and shrink to the three live; a third failure leaves two of three,
// which still commit; the two removed come back (under their IDs, as
// learners asking to join) and take the third's place, and once the third
// is back too the group grows to five again.
func TestShrinkThenGrowBack(t *testing.T) {
	in, r := wideGroup(5, 5, 5)
	kill(&in, r[1], time.Hour)
	kill(&in, r[2], time.Hour)
	if whys := planUntilSteady(t, &in); !slices.Equal(whys, []StepReason{Shrink}) {
		t.Fatalf("steps %v, want one shrink", whys)
	}
	if want := sorted(r[0], r[3], r[4]); !slices.Equal(in.Conf.Voters, want) {
		t.Fatalf("voters %v after the shrink, want %v", in.Conf.Voters, want)
	}

	kill(&in, r[4], time.Hour)
	if whys := planUntilSteady(t, &in); len(whys) != 0 {
		t.Fatalf("steps %v after a third failure, want none (two of three live)", whys)
	}

	back := func(ids ...uint64) {
		for _, id := range ids {
			in.Live = append(slices.Clone(in.Live), Member{ID: id, Name: fmt.Sprintf("s%d", id), Server: true})
			delete(in.Missing, id)
			in.Match[id] = commit
		}
		in.Joins = append(in.Joins, ids...)
	}
	back(r[1], r[2])
	whys := planUntilSteady(t, &in)
	if want := sorted(r[0], r[1], r[2]); !slices.Equal(in.Conf.Voters, want) || !slices.Contains(whys, Replace) {
		t.Fatalf("steps %v, voters %v over four servers: want %v, the dead %d replaced", whys, in.Conf.Voters, want, r[4])
	}
	back(r[4])
	whys = planUntilSteady(t, &in)
	if want := sorted(r...); !slices.Equal(in.Conf.Voters, want) || !slices.Contains(whys, Grow) {
		t.Fatalf("steps %v, voters %v over five servers: want %v, grown", whys, in.Conf.Voters, want)
	}
}

// checkShrink holds a change that takes voters from before to after,
// removing more than it adds and no leaving one, to the one rule that
// allows it: it only removes voters, each dead (missing for ReplaceAfter)
// and not this leader, while no live server could take their places (every
// server placement wants is a voter); after has an odd number of voters;
// before and after both have a live majority (the joint configuration
// commits with a majority of each); and after survives more failures.
func checkShrink(p *planner, a Action, before, after []uint64) error {
	in := p.in
	for _, c := range a.Changes {
		if _, live := p.live[c.NodeID]; c.Type != raftpb.ConfChangeRemoveNode || live || c.NodeID == in.Self || !p.down(c.NodeID) {
			return fmt.Errorf("%v is not the removal of a dead voter", c)
		}
	}
	ranked := Rank(in.Heap, in.Live)
	for _, m := range ranked[:OddVoters(in.Replicas, len(ranked))] {
		if !p.isVoter(m.ID) {
			return fmt.Errorf("live %d could take a dead voter's place", m.ID)
		}
	}
	if len(after)%2 == 0 {
		return fmt.Errorf("an even number of voters is left")
	}
	live := func(voters []uint64) int {
		return len(slices.DeleteFunc(slices.Clone(voters), func(id uint64) bool { _, ok := p.live[id]; return !ok && id != in.Self }))
	}
	quorum := func(voters []uint64) int { return len(voters)/2 + 1 }
	if live(before) < quorum(before) || live(after) < quorum(after) {
		return fmt.Errorf("%d live of %d before, %d of %d after: no live majority of both", live(before), len(before), live(after), len(after))
	}
	if live(after)-quorum(after) <= live(before)-quorum(before) {
		return fmt.Errorf("survives %d more failures, as before %d", live(after)-quorum(after), live(before)-quorum(before))
	}
	return nil
}
