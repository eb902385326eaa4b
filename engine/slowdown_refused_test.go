package engine

import (
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// A refused pre-vote carries the refuser's term, which is below the
// campaign's whenever the refuser is not ahead: a lagging pre-candidate
// refused by a peer at its own term must not take that for a late
// answer and slow its clock. A granted pre-vote that answers a lower
// term than the campaign is a late answer, and does.
func TestRefusedPreVoteOfALowerTermDoesNotSlowTheClock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reject bool
		want   uint64
	}{
		{"refused", true, 1},
		{"granted", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlowNet(t, 7, false)
			s.drop = func(raftpb.Message) bool { return true }
			n := s.c.node(1)
			for i := 0; n.e.Replica().Status().RaftState != raft.StatePreCandidate; i++ {
				if i == 100*DefaultElectionTicks {
					t.Fatalf("node 1 never campaigned:%s", s.states())
				}
				s.tick()
			}
			term := n.e.Replica().Status().Term // the campaign is for term+1
			n.e.Step(raftpb.Message{Type: raftpb.MsgPreVoteResp, From: 2, To: 1, Term: term, Reject: tc.reject})
			if f, _ := n.e.ElectionSlowdown(); f != tc.want {
				t.Fatalf("after a %s pre-vote at term %d (campaign %d): factor %d, want %d:%s", tc.name, term, term+1, f, tc.want, s.states())
			}
		})
	}
}
