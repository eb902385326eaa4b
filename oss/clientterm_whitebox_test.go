package oss

import (
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss/pki"
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
	c := startTestNodes(t, 31, "a", "b", "c")
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "bank", Perm: PermWrite})
	app := c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	g := c.waitGroup(t, "bank")
	lead := c.nodes[g.Leader]
	waitCond(t, "the leader to know app", func() bool { name, _ := lead.lookup(app.id); return name == "app" })
	h := lead.replicaOf("bank")
	term := h.Stats().Term
	for _, typ := range []raftpb.MessageType{raftpb.MsgHeartbeatResp, raftpb.MsgAppResp, raftpb.MsgReadIndex, raftpb.MsgProp} {
		m := raftpb.Message{Type: typ, From: app.id, To: lead.id, Term: term + 1000}
		if typ == raftpb.MsgProp {
			m.Entries = []raftpb.Entry{{Type: raftpb.EntryNormal}}
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env := raftEnvelope{Heap: "bank", Group: h.group, Msg: b}
		lead.receive("app", env.appendTo(nil))
	}
	// The loop steps what it has received before it answers a read.
	untilCommitted(t, "a commit after the client's messages", h, func(tx *Tx) error { return Put(tx, uuid.New(), 1) })
	if got := h.Stats().Term; got >= term+1000 {
		t.Fatalf("a client's messages at term %d moved the group from term %d to %d", term+1000, term, got)
	}
}
