package engine

import (
	"bytes"

	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// Commit notices. Once its commit index moves, raft's leader sends every
// follower an append without entries that carries it, and every follower
// answers it. From a follower the leader replicates to (raft's
// StateReplicate) and knows to hold its log through the append's index
// (its match), that answer tells the leader nothing: its match does not
// move, nothing in flight is freed, no probe ends. One client's commit on
// a group of three took eight raft messages, and two were these answers
// (docs/design.md, "Commit notices").
//
// So a leader marks such an append as a notice (MarkNotice: the message's
// Context, which raft does not read in an append), and a follower that
// steps one drops raft's answer to it from the next Ready, the first that
// can hold it. Only that answer, and those alike to it in the same Ready
// (trimAnswers): the notice is forgotten once that Ready is taken, and at
// any other append or snapshot stepped before it, so an answer to
// anything else goes unless it says just what the notice's did. Dropping
// a raft message is always safe; what the leader still needs from such a
// follower (that it is alive) its heartbeats' answers tell. A follower of
// a version that does not know the mark answers as before.

// noticeMark is the Context of an append that is a commit notice.
var noticeMark = []byte("commit notice")

// notice is a commit notice stepped: raft's answer to it goes to the
// leader (to), in its term, for its index. The zero notice is none (a
// leader's raft ID is never 0).
type notice struct{ to, term, index uint64 }

// MarkNotice marks m, a message this replica is about to send as leader,
// as a commit notice if it is an append without entries whose answer
// would tell the leader nothing.
func (e *Engine) MarkNotice(m *raftpb.Message) {
	if m.Type != raftpb.MsgApp || len(m.Entries) != 0 || len(m.Context) != 0 {
		return
	}
	holds := false
	e.r.WithProgress(func(id uint64, pr tracker.Progress) {
		if id == m.To {
			holds = pr.State == tracker.StateReplicate && pr.Match == m.Index
		}
	})
	if holds {
		m.Context = noticeMark
	}
}

// noteNotice notes a commit notice about to be stepped. It forgets the
// one before at a snapshot, and at an append whose answer could be taken
// for the notice's: raft answers an append with the index of its last
// entry, or with its commit index when the append precedes it, so only
// an append with entries that follows the notice's index (the next
// commit's, often stepped in the same batch) leaves the notice standing.
func (e *Engine) noteNotice(m *raftpb.Message) {
	switch {
	case m.Type == raftpb.MsgApp && len(m.Entries) == 0 && bytes.Equal(m.Context, noticeMark):
		e.notice = notice{to: m.From, term: m.Term, index: m.Index}
	case m.Type == raftpb.MsgApp && len(m.Entries) > 0 && e.notice.to != 0 && m.Index >= e.notice.index:
	case m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap:
		e.notice = notice{}
	}
}

// trimAnswers trims the answers to peers among msgs, the messages of the
// Ready just taken: it drops raft's answer to the notice stepped since
// the last Ready, and forgets the notice; and of acknowledgements alike
// in every field, it sends at most the first: one alike to an answer
// before it, sent or dropped, says nothing the leader has not been told
// or did not need. Under load a follower steps many commit notices
// between two Readies, and raft answers each: one Ready held 35 copies
// of the same answer. A follower can also step two notices for one index
// between two Readies: the append a heartbeat's answer prompted while
// the entry was in flight (marked as it left, the entry's
// acknowledgement stepped by then) and the one the new commit index
// prompted. Until answers alike to a dropped one were dropped too, one
// of the two was answered: half the notices of a test group with
// heartbeats (TestCommitNoticesUnderHeartbeatsAreNotAnswered).
func (e *Engine) trimAnswers(msgs []raftpb.Message) []raftpb.Message {
	n := e.notice
	e.notice = notice{}
	var kept []raftpb.Message // nil while nothing is dropped
	for i := range msgs {
		m := &msgs[i]
		drop := false
		if m.Type == raftpb.MsgAppResp {
			if n.to != 0 && !m.Reject && m.To == n.to && m.Term == n.term && m.Index == n.index {
				drop, n = true, notice{} // one answer a notice
			} else {
				drop = alikeBefore(msgs, i)
			}
		}
		switch {
		case drop && kept == nil:
			kept = append(make([]raftpb.Message, 0, len(msgs)-1), msgs[:i]...)
		case !drop && kept != nil:
			kept = append(kept, *m)
		}
	}
	if kept == nil {
		return msgs
	}
	return kept
}

// alikeBefore reports whether an answer before msgs[i] says all it does.
func alikeBefore(msgs []raftpb.Message, i int) bool {
	for j := range i {
		if sameAnswer(&msgs[j], &msgs[i]) {
			return true
		}
	}
	return false
}

// sameAnswer reports whether acknowledgement a says all that b does.
func sameAnswer(a, b *raftpb.Message) bool {
	return a.Type == b.Type && a.To == b.To && a.Term == b.Term && a.Index == b.Index && a.Reject == b.Reject &&
		a.RejectHint == b.RejectHint && a.LogTerm == b.LogTerm && a.Commit == b.Commit
}
