package oss

import (
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// A node sends raft snapshots only as streams (sendSnapshot), which the
// receiver decodes before raft sees them (receiveSnapshot). A member's
// MsgSnap on a message stream carries its state in Data as it likes: one
// whose Data does not decode, ahead of the follower's commit and naming
// it in its configuration, was restored by the follower's replica, which
// failed on it and was closed as lost. The message path drops MsgSnap.
func TestSnapshotOnAMessageStreamLosesNoReplica(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, _, g := clientOfBank(t, 47, PermRead)
	lead := c.nodes[g.Leader]
	var f *Node
	for _, name := range []string{"a", "b", "c"} {
		if name != g.Leader {
			f = c.nodes[name]
			break
		}
	}
	h, fh := lead.replicaOf("bank"), f.replicaOf("bank")
	cs := h.conf.Load()
	applied := fh.Stats().Applied
	sendFrom(t, lead, f, raftpb.Message{
		Type: raftpb.MsgSnap, Term: h.term.Load(),
		Snapshot: &raftpb.Snapshot{
			Data:     []byte("not a snapshot"),
			Metadata: raftpb.SnapshotMetadata{Index: applied + 1000, Term: h.term.Load(), ConfState: *cs},
		},
	})
	untilCommitted(t, "a commit through the leader after the forged snapshot", h, func(tx *Tx) error { return Put(tx, uuid.New(), 1) })
	want := h.Stats().Applied
	waitCond(t, f.Name()+" to apply the commit or lose its replica", func() bool {
		return fh.lostErr() != nil || fh.Stats().Applied >= want
	})
	if err := fh.lostErr(); err != nil {
		t.Fatalf("%s's replica of bank after a snapshot on a message stream: %v", f.Name(), err)
	}
}
