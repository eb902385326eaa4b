package engine

import (
	"reflect"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// A dead voter's replacement that makes no progress (the leader cannot
// reach it, or it takes no entries) is passed over once it is stalled for
// ReplaceAfter, for another server that can take the place; it stays a
// learner, nothing is removed for it, and without another server the
// group waits for it. One that catches up slowly, its match index rising,
// is not stalled and is waited for.
func TestPlanPassesOverAStalledReplacement(t *testing.T) {
	// r[1] dead, r[3] its replacement, a learner behind.
	base := func(in *PlanInput, r []uint64) {
		kill(in, r[1], time.Hour)
		in.Conf.Learners = []uint64{r[3]}
		in.Match[r[3]] = 0
	}
	for _, tc := range []struct {
		name   string
		steady bool // no voter dead, no replacement: base is not applied
		in     func(in *PlanInput, r []uint64)
		want   func(r []uint64) Action
	}{
		{
			name: "a replacement stalled for ReplaceAfter is passed over for the next server",
			in:   func(in *PlanInput, r []uint64) { in.Stalled = map[uint64]time.Duration{r[3]: replaceAfter} },
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[4])) },
		},
		{
			name: "the next server, caught up, takes the place; the stalled one stays a learner",
			in: func(in *PlanInput, r []uint64) {
				in.Conf.Learners = sorted(r[3], r[4])
				in.Stalled = map[uint64]time.Duration{r[3]: time.Hour}
			},
			want: func(r []uint64) Action { return conf(Replace, change(addNode, r[4]), change(removeAny, r[1])) },
		},
		{
			name: "a replacement that acknowledged some entries but none for ReplaceAfter is passed over",
			in: func(in *PlanInput, r []uint64) {
				in.Match[r[3]] = commit / 2
				in.Stalled = map[uint64]time.Duration{r[3]: replaceAfter}
			},
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[4])) },
		},
		{
			name: "a replacement stalled for less than ReplaceAfter is waited for",
			in: func(in *PlanInput, r []uint64) {
				in.Stalled = map[uint64]time.Duration{r[3]: replaceAfter - time.Millisecond}
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a replacement catching up slowly is waited for",
			in: func(in *PlanInput, r []uint64) {
				// Far behind, but its match index rose a tick ago.
				in.Match[r[3]] = commit - 10*CaughtUpSlack
				in.Stalled = map[uint64]time.Duration{r[3]: 10 * time.Millisecond}
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a caught-up replacement is promoted, however long since its match rose",
			in: func(in *PlanInput, r []uint64) {
				in.Match[r[3]] = commit
				in.Stalled = map[uint64]time.Duration{r[3]: time.Hour}
			},
			want: func(r []uint64) Action { return conf(Replace, change(addNode, r[3]), change(removeAny, r[1])) },
		},
		{
			name: "without another server a stalled replacement stays, and nothing is removed",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[4])
				in.Stalled = map[uint64]time.Duration{r[3]: time.Hour}
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name:   "a stalled learner is no rebalancing target",
			steady: true,
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[2], r[3]), Learners: []uint64{r[1]}}
				in.Match[r[1]] = 0
				in.Stalled = map[uint64]time.Duration{r[1]: time.Hour}
			},
			want: func(r []uint64) Action { return Action{} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, r := group()
			if !tc.steady {
				base(&in, r)
			}
			tc.in(&in, r)
			if got, want := Plan(in), tc.want(r); !reflect.DeepEqual(got, want) {
				t.Errorf("placement %v, voters %v, learners %v:\ngot  %s\nwant %s", r, in.Conf.Voters, in.Conf.Learners, show(got), show(want))
			}
		})
	}
}
