package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// A write hands out the answers to peers that vouch for it (a follower's
// acknowledgement of the entries), for the owner to send the moment the
// write is durable. Reported with WrittenSent, the engine does not send
// them again; reported with Written, it sends them, as before. A leader's
// write vouches only for its own copy, which it steps itself: no answers.
func TestAsyncWriteHandsOutItsAnswers(t *testing.T) {
	for _, sent := range []bool{true, false} {
		c := asyncCluster(t, 3)
		c.elect(1)
		n, f := c.node(1), c.node(2)
		n.e.Propose([]Proposal{prop(t, n.applied())})
		rd := n.e.Ready()
		if len(rd.Writes) != 1 || len(rd.Writes[0].Entries) != 1 || rd.Writes[0].Answers != nil {
			t.Fatalf("leader: writes %+v, want one of one entry and no answers", rd.Writes)
		}
		idx := rd.Writes[0].Entries[0].Index
		n.e.Advance()
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
		if len(w.Answers) != 1 || w.Answers[0].Type != raftpb.MsgAppResp || w.Answers[0].To != n.id ||
			w.Answers[0].Reject || w.Answers[0].Index < idx {
			t.Fatalf("follower's write answers %+v, want its acknowledgement of %d to the leader", w.Answers, idx)
		}
		f.e.Advance()
		if sent {
			f.e.WrittenSent(w.Seq)
		} else {
			f.e.Written(w.Seq)
		}
		rd = f.e.Ready()
		acks := 0
		for _, m := range append(rd.Early, rd.Messages...) {
			if m.Type == raftpb.MsgAppResp {
				acks++
			}
		}
		if want := map[bool]int{true: 0, false: 1}[sent]; acks != want {
			t.Fatalf("sent by the owner %v: the engine sends %d acknowledgements once the write is durable, want %d", sent, acks, want)
		}
		f.e.Advance()
	}
}
