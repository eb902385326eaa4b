package oss

import (
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// raft takes a read-index request's context from its first entry and
// panics on a proposal without entries; it never sends either. A client
// certificate's peer made them up: one MsgReadIndex without entries to a
// heap's leader ended the leader's process (an index out of range in
// raft, which the loop does not take for a raft panic), and one empty
// MsgProp closed the leader's replica as lost. route drops both as
// malformed, from any peer.
func TestMalformedRaftMessagesStopNoLeader(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, app, g := clientOfBank(t, 43, PermRead)
	lead := c.nodes[g.Leader]
	h := lead.replicaOf("bank")
	for _, m := range []raftpb.Message{
		{Type: raftpb.MsgReadIndex},
		{Type: raftpb.MsgReadIndex, Entries: []raftpb.Entry{{Data: []byte{1}}, {Data: []byte{2}}}},
		{Type: raftpb.MsgProp},
	} {
		m.Term = h.term.Load()
		sendFrom(t, app, lead, m)
	}
	// The loop steps what it has received before it answers a read.
	untilCommitted(t, "a commit through the leader after the client's messages", h, func(tx *Tx) error { return Put(tx, uuid.New(), 1) })
	if err := lead.Damage(); err != nil {
		t.Fatalf("the leader after the client's messages: %v", err)
	}
}
