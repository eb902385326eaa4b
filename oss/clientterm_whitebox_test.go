package oss

import (
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// A raft message carries its sender's term, and raft steps down a leader
// that meets a higher one, whatever the message. Only the messages that
// voters alone send were dropped from a client; the ones a learner sends
// (answers to appends and heartbeats, proposals, read-index requests)
// went to raft with whatever term the client wrote in them. A client's
// heartbeat answer at a term ahead of the group's deposes its leader.
func TestClientTermCannotDeposeALeader(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, app, g := clientOfBank(t, 31, PermWrite)
	lead := c.nodes[g.Leader]
	h := lead.replicaOf("bank")
	term := h.Stats().Term
	for _, typ := range []raftpb.MessageType{raftpb.MsgHeartbeatResp, raftpb.MsgAppResp, raftpb.MsgReadIndex, raftpb.MsgProp} {
		m := raftpb.Message{Type: typ, Term: term + 1000}
		if typ == raftpb.MsgProp {
			m.Entries = []raftpb.Entry{{Type: raftpb.EntryNormal}}
		}
		sendFrom(t, app, lead, m)
	}
	// The loop steps what it has received before it answers a read.
	untilCommitted(t, "a commit after the client's messages", h, func(tx *Tx) error { return Put(tx, uuid.New(), 1) })
	if got := h.Stats().Term; got >= term+1000 {
		t.Fatalf("a client's messages at term %d moved the group from term %d to %d", term+1000, term, got)
	}
}
