package oss

import (
	"encoding/binary"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/oss/pki"
)

// A read-index request is answered with the group's commit index. From a
// client, a heap's replica took one whether or not the client may read
// the heap, so a certificate granted nothing on it could follow its
// commits. A client that may read the heap is answered as before.
func TestReadIndexOnlyForClientsThatMayRead(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 43, "a", "b", "c")
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "other", Perm: PermWrite})
	mustGrant(t, c.nodes["a"], Grant{Who: "reader", Heap: "bank", Perm: PermRead})
	app := c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	reader := c.add("reader", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	g := c.waitGroup(t, "bank")
	leader := c.nodes[g.Leader]
	h := leader.replicaOf("bank")
	waitCond(t, g.Leader+" to know the grants", func() bool {
		return leader.authorize("reader", pki.RoleClient, "bank", PermRead) == nil &&
			leader.authorize("app", pki.RoleClient, "other", PermWrite) == nil
	})
	ask := func(from *Node) bool {
		ctx := make([]byte, 16)
		binary.BigEndian.PutUint64(ctx, from.id)
		m := raftpb.Message{Type: raftpb.MsgReadIndex, From: from.id, To: leader.id, Term: h.term.Load(),
			Entries: []raftpb.Entry{{Data: ctx}}}
		return leader.admits(from.Name(), h, &m)
	}
	before := leader.acl.refused.Load()
	if ask(app) {
		t.Fatal("a read-index request for bank from a client granted nothing on it was admitted")
	}
	if leader.acl.refused.Load() == before {
		t.Fatal("the refused read-index request was not counted")
	}
	if !ask(reader) {
		t.Fatal("a read-index request for bank from a client that may read it was dropped")
	}
	for _, name := range []string{"a", "b", "c"} {
		if name != g.Leader && !ask(c.nodes[name]) {
			t.Fatalf("a read-index request from server %s was dropped", name)
		}
	}
}
