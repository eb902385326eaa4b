package engine

import (
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// An engine over a replica with asynchronous storage writes
// (consistency.Config.AsyncStorageWrites) hands its log writes out as
// Ready.Writes and takes new Readies while they are being made: a leader
// appends and sends the next batch, and steps its followers'
// acknowledgements, while its own log syncs; a follower takes the next
// append while it writes the last. The owner makes each Write durable in
// the order handed out and reports it with Written (or DiskFailed); raft
// hears of a write only then, and counts this replica's copy of its
// entries only then. Only entries durable here are applied, so a Ready's
// outcomes go out at once, except those of a Ready that installs a
// leader's snapshot (Ready.WriteFirst).

// Write is a log write an asynchronous engine hands out: what raft asks to
// make durable, in the order handed out.
type Write struct {
	// Seq names the write in Written.
	Seq uint64
	// Entries to append, replacing any from their first index on.
	Entries []raftpb.Entry
	// HardState to keep, if not empty.
	HardState raftpb.HardState
	// Snapshot to install first, if not empty.
	Snapshot raftpb.Snapshot
	// KeepsConf says HardState's commit index covers a configuration
	// change this replica has not yet kept a commit index for: the owner
	// keeps the HardState even when nothing else changed, or a restart
	// would bring the replica back in an older configuration.
	KeepsConf bool
	// Answers are what the write, once durable, lets this replica tell
	// its peers: a follower's acknowledgement of the appended entries, a
	// vote. They go out in the Ready after Written; an owner that sends
	// them itself as soon as the write is durable (from its log's writer,
	// without waiting for its loop) says so with Answered before Written,
	// and the engine does not send them again.
	Answers []raftpb.Message
}

// write is a Write in flight and what waits for it.
type write struct {
	seq   uint64
	msg   raftpb.Message   // raft's MsgStorageAppend
	keeps bool             // Write.KeepsConf
	after []raftpb.Message // messages to send once it is durable (snapshots)
	done  bool
	// answered: the owner sent the write's answers to peers (Answered).
	answered bool
}

// readyAsync takes a Ready from an asynchronous replica into rd: the
// Ready held when the last one is not advanced (or its write first
// refused), else a new one.
func (e *Engine) readyAsync(rd *Ready) {
	if e.rd == nil && e.refused {
		if e.retry {
			rd.Writes, rd.Retry = e.writesOf(e.inflight), true
			e.given.retry = true
		}
		return
	}
	if e.rd == nil && !e.lost && e.r.HasReady() {
		e.rdv = e.r.Take()
		if !e.cfg.ApplyApart || !raft.IsEmptySnap(e.rdv.Snapshot) {
			// A leader's snapshot is installed at once, as it was
			// taken: whether it decodes decides the rest.
			e.r.Apply(&e.rdv)
		}
		e.rd = &e.rdv
		e.lost = e.rdv.Err != nil
		if !e.lost {
			e.takeWrite()
		}
	}
	switch {
	case e.lost:
		rd.Err = e.rd.Err
	case e.rd != nil && (!e.refused || e.retry):
		rd.Ready, rd.HasRaft = *e.rd, true
		rd.Early, rd.WriteFirst = e.early, e.snapWrite
		if e.refused {
			rd.Writes, rd.Retry = e.writesOf(e.inflight), true
			rd.Early = nil
		} else if e.rd.Append != nil {
			rd.Writes = e.writesOf(e.inflight[len(e.inflight)-1:])
		}
		e.given.raft = true
	}
}

// takeWrite queues the write of the Ready just taken, if any, and parts
// its messages: snapshots wait for the writes before them, the rest go
// out at once (raft holds back in the write's responses what vouches for
// it).
func (e *Engine) takeWrite() {
	rd := e.rd
	e.early, e.snapWrite = rd.Messages, false
	var snaps []raftpb.Message
	if containsType(rd.Messages, raftpb.MsgSnap) {
		e.early = nil
		for _, m := range rd.Messages {
			if m.Type == raftpb.MsgSnap {
				snaps = append(snaps, m)
			} else {
				e.early = append(e.early, m)
			}
		}
	}
	if m := rd.Append; m != nil {
		m.Responses = e.trimAnswers(m.Responses)
		if m.Snapshot != nil {
			e.unlogged()
		}
		e.logged(m.Entries)
		e.noteConf(m.Entries)
		e.noteConf(rd.CommittedEntries)
		e.wseq++
		w := &write{seq: e.wseq, msg: *m}
		if m.Commit != 0 && m.Commit >= e.confAt && e.confAt > e.confKept {
			w.keeps, e.confKept = true, e.confAt
		}
		e.inflight = append(e.inflight, w)
		e.snapWrite = m.Snapshot != nil
	}
	e.notice = notice{}
	switch n := len(e.inflight); {
	case len(snaps) == 0:
	case n > 0:
		e.inflight[n-1].after = append(e.inflight[n-1].after, snaps...)
	default:
		e.outbox = append(e.outbox, snaps...)
	}
}

func containsType(msgs []raftpb.Message, t raftpb.MessageType) bool {
	for i := range msgs {
		if msgs[i].Type == t {
			return true
		}
	}
	return false
}

// noteConf notes the last configuration change among entries written or
// committed.
func (e *Engine) noteConf(ents []raftpb.Entry) {
	for i := range ents {
		if t := ents[i].Type; t == raftpb.EntryConfChange || t == raftpb.EntryConfChangeV2 {
			e.confAt = max(e.confAt, ents[i].Index)
		}
	}
}

// writesOf returns the Writes of writes in flight.
func (e *Engine) writesOf(ws []*write) []Write {
	out := make([]Write, len(ws))
	for i, w := range ws {
		m := &w.msg
		out[i] = Write{Seq: w.seq, Entries: m.Entries, HardState: raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}}
		if m.Snapshot != nil {
			out[i].Snapshot = *m.Snapshot
		}
		out[i].KeepsConf = w.keeps
		for _, r := range m.Responses {
			if r.To != e.id {
				out[i].Answers = append(out[i].Answers, r)
			}
		}
	}
	return out
}

// Answered reports the answers of the Write seq (Write.Answers) sent by
// the owner: they are not sent again once it is Written. The owner sends
// them only once the write is durable.
func (e *Engine) Answered(seq uint64) {
	for _, w := range e.inflight {
		if w.seq == seq {
			w.answered = true
		}
	}
}

// advanceAsync is Advance for an asynchronous replica: the Ready's write
// is the owner's to make, and Written reports it.
func (e *Engine) advanceAsync(g given) {
	if g.retry {
		// Made again now, unless already all written.
		e.retry, e.retrying = false, e.refused
	}
	if !g.raft {
		return
	}
	if !e.rd.Applied() {
		// The owner did not Apply: raft waits for the apply, and the
		// completions and read answers it decides go out in the next
		// Ready (settle below ends the waits they answer).
		late := Ready{Ready: *e.rd, HasRaft: true}
		e.applyTo(&late)
		e.completions = append(e.completions, late.Completions...)
		e.answers = append(e.answers, late.Reads...)
	}
	rd := *e.rd
	e.rd, e.rdv, e.early, e.snapWrite = nil, consistency.Ready{}, nil, false
	if e.refused {
		// A held Ready whose write the log refused, handed out again
		// and not yet all written.
		e.retry, e.retrying = false, true
	}
	e.settle(rd.Results, rd.ReadStates, rd.State.Index(), rd.SoftState)
}

// Written reports the Write seq durable. Raft hears of it, and of every
// write before it, once those are durable too; their answers to peers go
// out in the next Ready.
func (e *Engine) Written(seq uint64) {
	for _, w := range e.inflight {
		if w.seq == seq {
			w.done = true
		}
	}
	for len(e.inflight) > 0 && e.inflight[0].done {
		w := e.inflight[0]
		e.inflight[0] = nil
		e.inflight = e.inflight[1:]
		e.stable(w)
	}
	if e.refused && len(e.inflight) == 0 {
		e.refused, e.retry, e.retrying, e.diskErr = false, false, false, nil
	}
	e.askHeldReads()
}

// stable appends a durable write to the log in memory and steps its
// responses: raft's own acknowledgements, and answers for peers.
func (e *Engine) stable(w *write) {
	m := &w.msg
	if m.Snapshot != nil {
		if err := e.cfg.Storage.ApplySnapshot(*m.Snapshot); err != nil && err != raft.ErrSnapOutOfDate {
			panic(fmt.Sprintf("engine: apply snapshot: %v", err))
		}
		e.held.reset()
	}
	if hs := (raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}); !raft.IsEmptyHardState(hs) {
		if err := e.cfg.Storage.SetHardState(hs); err != nil {
			panic(fmt.Sprintf("engine: set hard state: %v", err))
		}
	}
	if err := e.cfg.Storage.Append(m.Entries); err != nil {
		panic(fmt.Sprintf("engine: append: %v", err))
	}
	e.held.append(m.Entries)
	for _, r := range m.Responses {
		if r.To == e.id {
			if err := e.r.StepLocal(r); err != nil {
				e.log.Debug("local response not stepped", "err", err)
			}
			continue
		}
		if !w.answered {
			e.outbox = append(e.outbox, r)
		}
	}
	e.outbox = append(e.outbox, w.after...)
}

// diskFailedAsync is DiskFailed for an asynchronous replica: every write
// in flight is made again, in order, once the log takes writes.
func (e *Engine) diskFailedAsync() {
	for _, w := range e.inflight {
		w.done = false
	}
	e.retrying = false
}
