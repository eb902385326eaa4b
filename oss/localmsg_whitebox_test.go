package oss

import (
	"context"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// raft reserves two raft IDs for the node's own storage threads
// (raft.LocalAppendThread and raft.LocalApplyThread) and steps a message
// of a storage type (MsgStorageAppendResp, MsgStorageApplyResp) from
// either as its own storage's word, from the network too. A client
// certificate that joined the catalog under one of them, and sent a
// server "applied up to index 2^40" from it, made raft panic on the
// server ("applied(...) is out of range"), which closed the server's
// replica of the catalog as lost; one at an index the replica had not
// yet applied would have had it skip committed entries. The join is
// refused for good, and such messages are dropped from any peer.
func TestNoPeerSpeaksAsRaftsStorage(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a", "b", "c")
	m := c.startRole("mallory", pki.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, id := range []uint64{raft.LocalApplyThread, raft.LocalAppendThread} {
		to, cr := joinUnder(t, ctx, c, m, id)
		if cr.OK || cr.Refused == "" {
			t.Errorf("%s, leading the catalog, took mallory's join under raft's reserved ID %x: %+v", to, id, cr)
		}
	}
	for name, n := range c.nodes {
		if name == "mallory" {
			continue
		}
		h := n.catalog.Load()
		var msgs []raftpb.Message
		for _, id := range []uint64{raft.LocalApplyThread, raft.LocalAppendThread} {
			n.learn(id, "mallory") // as if bound by an older member
			msgs = append(msgs,
				raftpb.Message{Type: raftpb.MsgStorageApplyResp, From: id, To: n.id, Entries: []raftpb.Entry{{Index: 1 << 40}}},
				raftpb.Message{Type: raftpb.MsgStorageAppendResp, From: id, To: n.id, Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 1 << 40}}})
		}
		for _, msg := range msgs {
			if _, _, ok := n.route("mallory", forgedEnvelope(t, n, msg)); ok {
				t.Errorf("%s routes mallory's %v from raft ID %x to its catalog", name, msg.Type, msg.From)
			}
		}
		base := malformedFrom(n, "mallory")
		for _, msg := range msgs {
			if err := m.tr.Send(ctx, name, forgedEnvelope(t, n, msg)); err != nil {
				t.Fatal(err)
			}
		}
		// Sent asynchronously: until the node has dropped them all as
		// malformed, or its catalog's loop, stepping one, lost it.
		waitFor(t, name+" to drop mallory's messages", func() bool {
			now := malformedFrom(n, "mallory")
			return h.lostErr() != nil || now.unlogged >= base.unlogged+len(msgs) || now.logged.After(base.logged)
		})
		if err := h.lostErr(); err != nil {
			t.Fatalf("%s lost its catalog: %v", name, err)
		}
	}
	leader := c.catalogLeader(t)
	mustGrant(t, leader, Grant{Who: "mallory", Heap: "bank", Perm: PermRead})
	for name, n := range c.nodes {
		waitFor(t, name+" to apply the grant", func() bool {
			return n.Authorize("mallory", pki.RoleClient, "bank", PermRead) == nil
		})
		if err := n.catalog.Load().lostErr(); err != nil {
			t.Fatalf("%s lost its catalog: %v", name, err)
		}
	}
}

// malformedFrom returns what node n noted last of the malformed raft
// messages of peer.
func malformedFrom(n *Node, peer string) refusalSeen {
	n.malformed.mu.Lock()
	defer n.malformed.mu.Unlock()
	return n.malformed.last[refusalKey{"", peer}]
}

// joinUnder sends, from x, a join of the catalog under the raft ID id to
// the catalog's leader until it answers, and returns the leader's name and
// answer.
func joinUnder(t *testing.T, ctx context.Context, c *quicCluster, x *Node, id uint64) (string, callResponse) {
	t.Helper()
	return joinAt(t, ctx, c, x, id, x.Addr())
}

// joinAt is joinUnder with the join's address addr: it asks the
// catalog's leader until an answer takes the join, refuses it, or says
// the ID is a member.
func joinAt(t *testing.T, ctx context.Context, c *quicCluster, x *Node, id uint64, addr string) (string, callResponse) {
	t.Helper()
	req, _ := codec.Marshal(callRequest{Op: opJoin, Heap: catalogName, ID: id, Addr: addr, Cluster: x.ClusterID()})
	for {
		to := c.catalogLeader(t).Name()
		resp, err := x.tr.Call(ctx, to, req)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal(err)
			}
			t.Logf("join under %x: %v; again", id, err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var cr callResponse
		if err := codec.Unmarshal(resp, &cr); err != nil {
			t.Fatal(err)
		}
		if cr.OK || cr.Member || cr.Refused != "" {
			return to, cr
		}
		time.Sleep(20 * time.Millisecond)
	}
}
