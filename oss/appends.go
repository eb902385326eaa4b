package oss

import "go.etcd.io/raft/v3/raftpb"

// A leader whose follower lags sends that follower the same append again
// on every heartbeat answer while the follower has not acknowledged it
// (raft's probe, and a paused flow): raft takes an unanswered append for
// lost. The transport loses nothing on a live connection, though: it
// queues each peer's appends in order, up to QueueBytes (4 frames,
// 32 MiB by default). Over a link slower than a full append per heartbeat
// (a restarted node catching up on a loaded machine), the copies fill
// that queue: each new append then waits behind up to 32 MiB of copies,
// so every answer comes that much later, and the follower gained about
// one append per queue's worth of copies, less than the group committed
// meanwhile. It never caught up, and every commit through it waited.
//
// So the loop hands the transport an append that repeats the last one it
// sent to that peer only once the peer has answered an append since, the
// transport failed to take a message for it, or appendRepeatTicks have
// passed (a copy lost with its connection). Appends with different
// entries, and empty ones (a commit index, a probe of an empty log), go
// as raft makes them.

// appendRepeatTicks is how long an append that repeats the last one sent
// to its peer is held back while the peer has not answered: two election
// timeouts, long past the answer over a link that keeps up.
const appendRepeatTicks = 2 * electionTicks

// sentAppends is the last append with entries the loop handed the
// transport for each peer, by raft ID. The loop owns it.
type sentAppends map[uint64]sentAppend

// sentAppend is what makes an append the same as another: its term, the
// entry it follows and its last entry; and the tick it was sent at.
type sentAppend struct {
	term, index, logTerm, last uint64
	tick                       uint64
}

// repeats reports whether m, about to be sent at tick now, repeats the
// last append sent to its peer, unanswered and sent less than
// appendRepeatTicks before: then it is not sent. Otherwise m counts as
// that peer's last append from now on.
func (s sentAppends) repeats(m *raftpb.Message, now uint64) bool {
	if m.Type != raftpb.MsgApp || len(m.Entries) == 0 {
		return false
	}
	a := sentAppend{term: m.Term, index: m.Index, logTerm: m.LogTerm, last: m.Entries[len(m.Entries)-1].Index, tick: now}
	last, ok := s[m.To]
	if ok && now-last.tick < appendRepeatTicks && last.term == a.term && last.index == a.index &&
		last.logTerm == a.logTerm && last.last == a.last {
		return true
	}
	s[m.To] = a
	return false
}

// forget lets the next append to peer go whatever it repeats: the peer
// answered an append, or a message for it was not taken.
func (s sentAppends) forget(peer uint64) { delete(s, peer) }
