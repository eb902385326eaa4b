package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// A follower's write carries the answers its durability allows
// (Write.Answers: the acknowledgement to the leader). An owner that sends
// them itself once the write is durable says so with Answered, and the
// Ready after Written does not send them again; an owner that does not
// gets them in that Ready, as before.
func TestAsyncWriteCarriesItsAnswers(t *testing.T) {
	for _, answered := range []bool{false, true} {
		c := asyncCluster(t, 3)
		c.elect(1)
		n, f := c.node(1), c.node(2)
		n.e.Propose([]Proposal{prop(t, n.applied())})
		rd := n.e.Ready()
		if len(rd.Writes) != 1 || len(rd.Writes[0].Answers) != 0 {
			t.Fatalf("leader's write: %d writes, answers %v; a leader's own write answers no peer", len(rd.Writes), rd.Writes[0].Answers)
		}
		own := rd.Writes[0].Seq
		n.e.Advance()
		n.e.Written(own)
		for _, m := range rd.Early {
			if m.To == f.id {
				f.e.Step(m)
			}
		}
		rd = f.e.Ready()
		if len(rd.Writes) != 1 {
			t.Fatalf("follower: %d writes, want 1", len(rd.Writes))
		}
		w := rd.Writes[0]
		if len(w.Answers) != 1 || w.Answers[0].Type != raftpb.MsgAppResp || w.Answers[0].To != n.id || w.Answers[0].Index < w.Entries[len(w.Entries)-1].Index {
			t.Fatalf("follower's write answers %v; want its acknowledgement of index %d to the leader", w.Answers, w.Entries[len(w.Entries)-1].Index)
		}
		f.e.Advance()
		if answered {
			f.e.Answered(w.Seq)
		}
		f.e.Written(w.Seq)
		rd = f.e.Ready()
		acks := 0
		for _, m := range append(rd.Early, rd.Messages...) {
			if m.Type == raftpb.MsgAppResp {
				acks++
			}
		}
		if answered && acks != 0 || !answered && acks != 1 {
			t.Fatalf("answered by the owner %v: the Ready after Written sends %d acknowledgements", answered, acks)
		}
		f.e.Advance()
		// The leader commits with the acknowledgement, however it went.
		if rd := n.e.Ready(); rd.HasRaft {
			n.e.Advance()
		}
		n.e.Step(w.Answers[0])
		if rd := n.e.Ready(); rd.HardState.Commit < w.Entries[len(w.Entries)-1].Index {
			t.Fatalf("leader's commit index %d after the acknowledgement of %d", rd.HardState.Commit, w.Entries[len(w.Entries)-1].Index)
		}
	}
}
