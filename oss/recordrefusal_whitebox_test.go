package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// Only the catalog's leader writes node records, and it drops (refuses)
// any peer's proposal that writes one. A node that led the catalog when
// it wrote a record, and no longer did when raft took it, forwards it to
// the new leader: that record must end refused, for certain, and at once,
// not be sent again and again until its caller's context ends with an
// unknown outcome.

// recordCluster starts a, b and c on an in-memory network and returns
// them with the catalog's leader, once every node's catalog replica
// follows it.
func recordCluster(t *testing.T, seed uint64) (*testCluster, *Node) {
	c := startTestNodes(t, seed)
	for i, name := range []string{"a", "b", "c"} {
		c.add(name, i > 0, nil)
	}
	return c, catalogLeaderAll(t, c)
}

// catalogLeaderAll returns the catalog's leader once every node's
// catalog replica names it.
func catalogLeaderAll(t *testing.T, c *testCluster) *Node {
	var leader *Node
	waitCond(t, "a catalog leader every node follows", func() bool {
		leader = nil
		for _, n := range c.nodes {
			if h := n.catalog.Load(); h != nil && h.leaderIs(n.id) {
				leader = n
			}
		}
		if leader == nil {
			return false
		}
		for _, n := range c.nodes {
			if n.catalog.Load().leader.Load() != leader.id {
				return false
			}
		}
		return true
	})
	return leader
}

// A node registers a joining node as the catalog's leader does
// (admitJoin), but it no longer leads: its record goes to the leader,
// which refuses it. The join is told to try again (not a final refusal)
// with an error matching ErrPermission, never an unknown outcome, and the
// record is in no replica. Until 2026-12-06 the leader dropped the
// forwarded record, the node sent it again every few seconds, each copy
// dropped, and the registration (the join call) ended only with its
// context, "commit outcome unknown: context deadline exceeded".
func TestNodeRecordWrittenOffTheCatalogLeadIsRefused(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, leader := recordCluster(t, 61)
	var off *Node // a node that no longer leads the catalog
	for _, n := range c.nodes {
		if n != leader {
			off = n
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for attempt := 0; ; attempt++ {
		name, id := fmt.Sprintf("z%d", attempt), 0x2a+uint64(attempt) // a record written stays: a new name and ID
		final, err := off.admitJoin(ctx, off.catalog.Load(), name, &callRequest{Op: opJoin, Heap: catalogName, ID: id, Addr: "127.0.0.1:9"})
		if err == nil {
			// The lead came to off meanwhile (an election on a loaded
			// machine): the record is its own as leader. Again, from a
			// node that does not lead, for another node.
			if attempt > 20 {
				t.Fatal("the node that wrote the record led the catalog at each of 20 tries")
			}
			off = otherThanLeader(t, c)
			continue
		}
		if final || !errors.Is(err, ErrPermission) || errors.Is(err, ErrCommitUnknown) || ctx.Err() != nil {
			t.Fatalf("a registration off the catalog's lead: final %v, %v; want an error matching ErrPermission that is not final", final, err)
		}
		t.Logf("the registration through %s, which does not lead the catalog: %v", off.cfg.Name, err)
		marker := entryID("marker-after-refusal")
		untilCommitted(t, "a catalog commit after the refusal", catalogLeaderAll(t, c).catalog.Load(), func(tx *Tx) error {
			return Put(tx, marker, struct{}{})
		})
		for n2, n := range c.nodes {
			h := n.catalog.Load()
			waitCond(t, n2+" to apply the later commit", func() bool { _, ok := h.state.Load().Get(marker); return ok })
			if _, ok := h.state.Load().Get(nodeRecordID(name)); ok {
				t.Errorf("%s holds the refused record of %q", n2, name)
			}
		}
		return
	}
}

// otherThanLeader returns a node that does not lead the catalog once
// every node follows one leader.
func otherThanLeader(t *testing.T, c *testCluster) *Node {
	leader := catalogLeaderAll(t, c)
	for _, n := range c.nodes {
		if n != leader {
			return n
		}
	}
	t.Fatal("no node but the leader")
	return nil
}

// A server's forwarded proposal to the catalog whose message holds a
// node record's write and another record: on the leader, the node
// record's becomes a refusal and the other goes on as it is, and commits.
// Until 2026-12-06 the leader dropped the whole message, and the other
// record with it: resent together, each copy was dropped again.
func TestCatalogProposalBesideARefusedRecordCommits(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, _ := recordCluster(t, 62)
	record := func(txid uuid.UUID, snap uint64, id uuid.UUID, v any) []byte {
		val, err := codec.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		data, err := (&consistency.Record{TxID: txid, Snapshot: snap, Writes: []consistency.Write{{ID: id, Value: val}}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	marker := entryID("marker-beside-refusal")
	waitCond(t, "the leader to take the proposal", func() bool {
		leader := catalogLeaderAll(t, c)
		from := otherThanLeader(t, c)
		snap := leader.catalog.Load().state.Load().Index()
		bad := record(uuid.Must(uuid.NewV7()), snap, nodeRecordID("z"), nodeRecord{Name: "z", ID: 0x2a})
		good := record(uuid.Must(uuid.NewV7()), snap, marker, struct{}{})
		prop := forgedEnvelope(t, leader, raftpb.Message{Type: raftpb.MsgProp, From: from.id, To: leader.id,
			Entries: []raftpb.Entry{{Type: raftpb.EntryNormal, Data: bad}, {Type: raftpb.EntryNormal, Data: good}}})
		h, m, ok := leader.route(from.cfg.Name, prop)
		if !ok {
			return false // no longer the leader: dropped, as raft sends it to the leader
		}
		if !consistency.IsRefusal(m.Entries[0].Data) || !bytes.Equal(m.Entries[1].Data, good) {
			t.Fatal("the leader did not put a refusal in the node record's place alone")
		}
		h.enqueue(from.cfg.Name, m)
		return true
	})
	for name, n := range c.nodes {
		h := n.catalog.Load()
		waitCond(t, name+" to apply the record beside the refused one", func() bool { _, ok := h.state.Load().Get(marker); return ok })
		if _, ok := h.state.Load().Get(nodeRecordID("z")); ok {
			t.Errorf("%s holds the refused node record", name)
		}
	}
}
