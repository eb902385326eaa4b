package oss

import (
	"testing"

	"github.com/objectsharing/oss/oss/pki"
	"go.etcd.io/raft/v3/raftpb"
)

// clientOfBank starts servers a, b and c with heap bank open on each and
// a client node, app, granted perm on it, and returns them with the
// heap's group as its replicas see it.
func clientOfBank(t *testing.T, seed uint64, perm Permission) (*testCluster, *Node, Stats) {
	c := startTestNodes(t, seed, "a", "b", "c")
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "bank", Perm: perm})
	app := c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	return c, app, c.waitGroup(t, "bank")
}

// sendFrom hands to the raft message m for bank's group as from's
// transport would, once to knows from's raft ID.
func sendFrom(t *testing.T, from, to *Node, m raftpb.Message) {
	t.Helper()
	waitCond(t, to.Name()+" to know "+from.Name(), func() bool { name, _ := to.lookup(from.id); return name == from.Name() })
	m.From, m.To = from.id, to.id
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env := raftEnvelope{Heap: "bank", Group: to.replicaOf("bank").group, Msg: b}
	to.receive(from.Name(), env.appendTo(nil))
}
