package oss

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// appendTo is an append to peer in term 2 that follows entry index and
// carries the entries after it up to last.
func appendTo(peer, index, last uint64) *raftpb.Message {
	m := &raftpb.Message{Type: raftpb.MsgApp, To: peer, Term: 2, Index: index, LogTerm: 2}
	for i := index + 1; i <= last; i++ {
		m.Entries = append(m.Entries, raftpb.Entry{Term: 2, Index: i, Data: []byte("record")})
	}
	return m
}

// A leader probing a follower that lags makes the same append on every
// heartbeat answer until the follower acknowledges it. The loop hands the
// transport one copy: the next goes once the follower answers an append,
// the transport fails to take a message for it, or appendRepeatTicks pass
// (a copy lost with its connection). Over a slow link the copies used to
// fill the peer's queue, and a restarted node never caught up (the
// wissenheim/bots hang).
func TestRepeatedAppendWaitsForAnAnswer(t *testing.T) {
	s := sentAppends{}
	probe := appendTo(3, 100, 180)
	if s.repeats(probe, 10) {
		t.Fatal("the first append was held back")
	}
	// A heartbeat answer every tick: raft makes the same append again.
	for now := uint64(11); now < 10+appendRepeatTicks; now++ {
		if !s.repeats(appendTo(3, 100, 180), now) {
			t.Fatalf("tick %d: the same append, unanswered, was sent again", now)
		}
	}
	if s.repeats(appendTo(3, 100, 180), 10+appendRepeatTicks) {
		t.Fatal("a copy was held back past appendRepeatTicks: one lost with its connection would never be sent again")
	}

	// Another peer, other entries, another term, and empty appends go.
	if s.repeats(appendTo(2, 100, 180), 31) {
		t.Error("the append to another peer was held back")
	}
	if s.repeats(appendTo(3, 180, 200), 31) {
		t.Error("an append of the next entries was held back")
	}
	if s.repeats(appendTo(3, 180, 200), 32) == false {
		t.Error("that append, repeated at once, was sent again")
	}
	next := appendTo(3, 180, 200)
	next.Term = 3
	if s.repeats(next, 32) {
		t.Error("the same entries in a new term were held back")
	}
	empty := &raftpb.Message{Type: raftpb.MsgApp, To: 3, Term: 3, Index: 200, LogTerm: 2, Commit: 200}
	for now := uint64(33); now < 36; now++ {
		if s.repeats(empty, now) {
			t.Fatalf("tick %d: an empty append (a commit index) was held back", now)
		}
	}

	// An answer, or a message the transport did not take, lets the next
	// copy go.
	for _, release := range []string{"answer", "send failed"} {
		if s.repeats(appendTo(3, 200, 220), 40) || !s.repeats(appendTo(3, 200, 220), 41) {
			t.Fatalf("%s: the first copy was held back, or the second sent", release)
		}
		s.forget(3)
		if s.repeats(appendTo(3, 200, 220), 42) {
			t.Fatalf("after the %s, the copy was still held back", release)
		}
		s.forget(3)
	}
}
