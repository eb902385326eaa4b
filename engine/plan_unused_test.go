package engine

import (
	"reflect"
	"testing"
	"time"
)

// A learner whose node asked to be removed, having no use for its
// replica, goes once the group is at full strength and placement does
// not want it; not while a voter is down or silent (it may be the spare
// that takes the place), and not one placement wants.
func TestPlanDropsAnUnusedLearner(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   func(in *PlanInput, r []uint64)
		want func(r []uint64) Action
	}{
		{
			name: "at full strength an unused learner placement does not want is removed",
			in:   func(in *PlanInput, r []uint64) { in.Conf.Learners, in.Unused = []uint64{r[3]}, []uint64{r[3]} },
			want: func(r []uint64) Action { return conf(DropUnused, change(removeAny, r[3])) },
		},
		{
			name: "a learner that did not ask stays",
			in:   func(in *PlanInput, r []uint64) { in.Conf.Learners = []uint64{r[3]} },
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "not while a voter is silent: the learner may take its place",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[4])
				in.Conf.Learners, in.Unused = []uint64{r[3]}, []uint64{r[3]}
				silence(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return conf(Replace, change(addNode, r[3]), change(addLearn, r[1])) },
		},
		{
			name: "not while a voter is missing",
			in: func(in *PlanInput, r []uint64) {
				kill(in, r[1], time.Millisecond)
				in.Conf.Learners, in.Unused = []uint64{r[3]}, []uint64{r[3]}
			},
			want: func(r []uint64) Action { return Action{} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, r := group()
			tc.in(&in, r)
			if got, want := Plan(in), tc.want(r); !reflect.DeepEqual(got, want) {
				t.Errorf("placement %v, voters %v, learners %v:\ngot  %s\nwant %s", r, in.Conf.Voters, in.Conf.Learners, show(got), show(want))
			}
		})
	}
}
