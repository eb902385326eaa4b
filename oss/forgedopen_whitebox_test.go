package oss

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// Only a voter of a heap's group sends appends, snapshots and
// heartbeats, and a node that holds no replica of a heap opens one when
// such a message comes (a leader that added it). A client, which never
// sends them (admits drops them), made a server open a replica of any
// heap in the catalog with one heartbeat, before its role was looked at:
// an empty replica, its log written and synced, that no placement asked
// for. The server opens none for a client's message.
func TestClientHeartbeatOpensNoReplica(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 23, "a", "b", "c")
	app := c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.nodes["a"].CreateHeap(ctx, "solo", &HeapOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	e, ok := c.nodes["a"].catalogEntry("solo")
	if !ok {
		t.Fatal("no catalog entry of solo on a")
	}
	var x *Node
	for _, name := range []string{"a", "b", "c"} {
		if !slices.ContainsFunc(e.Voters, func(v groupMember) bool { return v.Name == name }) && c.nodes[name].replicaOf("solo") == nil {
			x = c.nodes[name]
		}
	}
	if x == nil {
		t.Fatalf("every server holds a replica of solo (voters %v)", e.Voters)
	}
	waitCond(t, "the server to know solo and app", func() bool {
		_, known := x.catalogEntry("solo")
		name, _ := x.lookup(app.id)
		return known && name == "app"
	})
	for _, typ := range []raftpb.MessageType{raftpb.MsgHeartbeat, raftpb.MsgApp, raftpb.MsgSnap} {
		m := raftpb.Message{Type: typ, From: app.id, To: x.id, Term: 1}
		if typ == raftpb.MsgSnap {
			m.Snapshot = &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1}}
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env := raftEnvelope{Heap: "solo", Group: e.Group, Msg: b}
		x.receive("app", env.appendTo(nil))
		if x.replicaOf("solo") != nil {
			t.Fatalf("a %v from client app made server %s open a replica of solo, which placement did not put there", typ, x.cfg.Name)
		}
	}
}
