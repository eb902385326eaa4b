package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// TestTwoLeavingVotersWithASpareKeepAQuorum: of three voters over four
// servers, two announce their leave at once. The one server left that
// stays and is no voter takes one of their votes, as it would had they
// left one after the other, so once both are gone the group still has
// two live voters of three. Placement wants one voter of the two servers
// left (an odd number), and that one is a voter already: the spare used
// to be left out, both leavers kept their votes, and the group was left
// one live voter of three, with no quorum, the spare idle beside it.
func TestTwoLeavingVotersWithASpareKeepAQuorum(t *testing.T) {
	var live []Member
	for i := 1; i <= 4; i++ {
		live = append(live, Member{ID: uint64(i), Name: fmt.Sprintf("s%d", i), Server: true})
	}
	var r []uint64
	for _, m := range Rank(testHeap, live) {
		r = append(r, m.ID)
	}
	in := PlanInput{
		Heap: testHeap, Self: r[0], Replicas: 3, Leader: true,
		Conf:   raftpb.ConfState{Voters: sorted(r[0], r[1], r[2])},
		Commit: commit, Match: map[uint64]uint64{}, Tick: 1000,
		Live: live, Now: now, Missing: map[uint64]time.Time{}, ReplaceAfter: replaceAfter,
	}
	for _, id := range r {
		in.Match[id] = commit
	}
	leave(&in, r[1])
	leave(&in, r[2])
	planUntilSteady(t, &in)
	// Both leavers go; the next leader is whichever live voter is left.
	kill(&in, r[1], replaceAfter)
	kill(&in, r[2], replaceAfter)
	liveVoters := slices.DeleteFunc(slices.Clone(in.Conf.Voters), func(id uint64) bool { return id == r[1] || id == r[2] })
	if len(liveVoters) <= len(in.Conf.Voters)/2 {
		t.Fatalf("voters %v after %d and %d left with %d spare: %v live, no quorum", in.Conf.Voters, r[1], r[2], r[3], liveVoters)
	}
	planUntilSteady(t, &in)
}
