package engine

import (
	"reflect"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// silence sets how long each member of the configuration has been silent
// to the leader: none for all but the given one.
func silence(in *PlanInput, id uint64, d time.Duration) {
	in.Silent = map[uint64]time.Duration{}
	for _, m := range append(append([]uint64(nil), in.Conf.Voters...), in.Conf.Learners...) {
		in.Silent[m] = 0
	}
	in.Silent[id] = d
}

// A voter that membership sees alive but that has sent its leader nothing
// for ReplaceAfter (the link between the two cut, the rest of the network
// whole) is replaced where a server can take its place, and kept as a
// learner; without a server to take its place the group is left as it is.
func TestPlanReplacesAVoterSilentToItsLeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   func(in *PlanInput, r []uint64)
		want func(r []uint64) Action
	}{
		{
			name: "a voter silent for ReplaceAfter gets the best-placed spare as a learner",
			in:   func(in *PlanInput, r []uint64) { silence(in, r[1], replaceAfter) },
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[3])) },
		},
		{
			name: "a voter silent for less than ReplaceAfter is left alone",
			in:   func(in *PlanInput, r []uint64) { silence(in, r[1], replaceAfter-time.Millisecond) },
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "the caught-up replacement is promoted and the silent voter kept as a learner",
			in: func(in *PlanInput, r []uint64) {
				in.Conf.Learners = []uint64{r[3]}
				silence(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return conf(Replace, change(addNode, r[3]), change(addLearn, r[1])) },
		},
		{
			name: "a silent learner is not promoted back, though placement wants it",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[2], r[3]), Learners: []uint64{r[1]}}
				silence(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a silent learner that answers again is promoted back by placement",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[2], r[3]), Learners: []uint64{r[1]}}
				silence(in, r[1], 0)
			},
			want: func(r []uint64) Action { return conf(Rebalance, change(addNode, r[1]), change(addLearn, r[3])) },
		},
		{
			name: "a silent learner placement wants holds back no eviction",
			in: func(in *PlanInput, r []uint64) {
				addClient(in, client)
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[2], r[3]), Learners: []uint64{r[1], client}}
				in.Evict = []uint64{client}
				silence(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return conf(Evict, change(removeAny, client)) },
		},
		{
			name: "a silent learner placement wants holds back no dead voter's replacement",
			in: func(in *PlanInput, r []uint64) {
				in.Conf = raftpb.ConfState{Voters: sorted(r[0], r[2], r[3]), Learners: []uint64{r[1]}}
				kill(in, r[2], time.Hour)
				silence(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return conf(Replace, change(addLearn, r[4])) },
		},
		{
			name: "a silent voter with no server to take its place stays a voter",
			in: func(in *PlanInput, r []uint64) {
				drop(in, r[3])
				drop(in, r[4])
				silence(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return Action{} },
		},
		{
			name: "a leaving leader hands over to a voter that answers, not to a silent one",
			in: func(in *PlanInput, r []uint64) {
				leave(in, r[0])
				in.Conf.Voters = []uint64{r[1], r[0], r[2]} // the silent one first
				silence(in, r[1], time.Hour)
			},
			want: func(r []uint64) Action { return Action{Kind: TransferLeader, Why: HandOver, To: r[2]} },
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
