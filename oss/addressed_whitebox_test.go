package oss

import (
	"context"
	"testing"

	"github.com/objectsharing/oss/persist"
	"go.etcd.io/raft/v3/raftpb"
)

// A failed start that a peer's raft message reached keeps the cluster
// ID it took even if it logged nothing: the message alone says a group
// of that cluster may hold its raft ID (addressed). The message is
// handed to the node's route, as its transport does, at its catalog's
// join step, where its log holds no record
// (TestWrongClusterFirstThenTheRightOneJoins takes the cluster ID back
// at that step); started again it joins under its ID.
func TestAMessageAloneKeepsAFailedStartsCluster(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	a := c.nodes["a"]
	dir := t.TempDir()
	cfg := c.quicConfig("b", dir, a.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var id uint64
	cfg.catalogStep = func(step string, h *Heap) {
		if step != "join" {
			return
		}
		b := h.node
		id = b.id
		waitCond(t, "b to know a's raft ID", func() bool {
			name, ok := b.lookup(a.id)
			return ok && name == "a"
		})
		m := raftpb.Message{Type: raftpb.MsgHeartbeat, From: a.id, To: b.id, Term: 1}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env := raftEnvelope{Heap: "h", Group: newNodeID(), Msg: data}
		b.route("a", env.appendTo(nil)) // a heap's heartbeat, of a group it has no replica of
		if !b.addressed.Load() {
			t.Fatal("a raft message for b's raft ID did not set addressed")
		}
		if st := b.disk.wal.Stats(); st.Records != 0 {
			t.Fatalf("b's log holds %d records: the message is not alone", st.Records)
		}
		cancel()
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined the catalog with Start's context ended")
	}
	if got, err := loadClusterID(persist.OS{}, dir); err != nil || got != a.ClusterID() {
		t.Fatalf("CLUSTER holds %x (%v), not a's cluster %x: a message of that cluster reached the node", got, err, a.ClusterID())
	}
	if got, err := loadNodeID(persist.OS{}, dir); err != nil || got != id {
		t.Fatalf("NODE_ID holds %x (%v); a message reached the node as %x, which a group may hold", got, err, id)
	}
	b := joinsA(t, c, dir)
	defer b.Close(context.Background())
	if b.id != id {
		t.Errorf("b runs as %x, a message reached it as %x", b.id, id)
	}
}
