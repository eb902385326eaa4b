package engine

import (
	"reflect"
	"testing"
	"time"
)

// A client learner that membership still lists but that has sent the
// leader nothing for ReplaceAfter is removed: a client closed or killed
// while the servers could not hear it (stopped, or under load) stayed
// listed by a membership that doubted its death for ever, and stayed a
// learner of the catalog and of its heaps. One silent for less, a server
// learner however silent (a spare placement passes over), and a client
// that answers stay.
func TestPlanDropsASilentClientLearner(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   func(in *PlanInput, r []uint64)
		want func(r []uint64) Action
	}{
		{
			name: "a live client silent for ReplaceAfter is removed",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				in.Conf.Learners = []uint64{client}
				silence(in, client, replaceAfter)
			},
			want: func(r []uint64) Action { return conf(DropSilent, change(removeAny, client)) },
		},
		{
			name: "a live client silent for less stays",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				in.Conf.Learners = []uint64{client}
				silence(in, client, replaceAfter-time.Second)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a live client that answers stays",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				in.Conf.Learners = []uint64{client}
				silence(in, r[1], 0)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a silent learner on a live server stays",
			in: func(in *PlanInput, r []uint64) {
				in.Conf.Learners = []uint64{r[3]}
				silence(in, r[3], time.Hour)
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
