package oss

import (
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// raft's MsgForgetLeader makes a follower drop the leader it knows
// until the next heartbeat; it is meant to be stepped locally (by
// RawNode.ForgetLeader, which OSS never calls), but RawNode takes it
// from the network too, and admits passed it from any peer, a client
// with read on the heap included. A follower that knows no leader drops
// the proposals it is given (they wait for their resend) and fails its
// read-index requests, and its status shows no leader: a client sending
// it every few milliseconds kept a follower leaderless most of the time.
func TestNoPeerMakesAFollowerForgetItsLeader(t *testing.T) {
	t.Parallel()
	c, app, g := clientOfBank(t, 37, PermRead)
	c.open("app", "bank")
	var f *Node
	for _, name := range []string{"a", "b", "c"} {
		if name != g.Leader {
			f = c.nodes[name]
			break
		}
	}
	h := f.replicaOf("bank")
	waitCond(t, "the follower to know its leader", func() bool { return h.leader.Load() != 0 })
	before := h.leaderChanges.Load()
	const sent = 50
	for range sent {
		sendFrom(t, app, f, raftpb.Message{Type: raftpb.MsgForgetLeader, Term: h.term.Load()})
		time.Sleep(20 * time.Millisecond) // past the next heartbeat (a tick, 10 ms)
	}
	// An election now and then is the machine's load; a leader forgotten
	// at each message is the message.
	if changes := h.leaderChanges.Load() - before; changes >= sent/5 {
		t.Fatalf("the follower's leader changed %d times while a client sent it %d MsgForgetLeader", changes, sent)
	}
}
