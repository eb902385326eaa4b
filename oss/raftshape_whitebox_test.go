package oss

import (
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss/pki"
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
	c := startTestNodes(t, 43, "a", "b", "c")
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "bank", Perm: PermRead})
	app := c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	g := c.waitGroup(t, "bank")
	lead := c.nodes[g.Leader]
	waitCond(t, "the leader to know app", func() bool { name, _ := lead.lookup(app.id); return name == "app" })
	h := lead.replicaOf("bank")
	for _, m := range []raftpb.Message{
		{Type: raftpb.MsgReadIndex},
		{Type: raftpb.MsgReadIndex, Entries: []raftpb.Entry{{Data: []byte{1}}, {Data: []byte{2}}}},
		{Type: raftpb.MsgProp},
	} {
		m.From, m.To, m.Term = app.id, lead.id, h.term.Load()
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env := raftEnvelope{Heap: "bank", Group: h.group, Msg: b}
		lead.receive("app", env.appendTo(nil))
	}
	// The loop steps what it has received before it answers a read.
	untilCommitted(t, "a commit through the leader after the client's messages", h, func(tx *Tx) error { return Put(tx, uuid.New(), 1) })
	if err := lead.Damage(); err != nil {
		t.Fatalf("the leader after the client's messages: %v", err)
	}
}
