package oss

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/persist"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// The heap's loop carries out what its engine decides (package engine):
// it feeds the engine ticks, messages, proposals and reads from channels,
// and carries each Ready out: the log write, sends, the published state,
// callers' results, watches, waiters, checkpoints.

// electionTicks is raft's election timeout in ticks (consistency's default).
const electionTicks = 10

// run is the heap's loop: the only goroutine that touches the engine and
// the replica.
func (h *Heap) run() {
	defer close(h.done)
	defer h.lostState()
	ticker := time.NewTicker(h.cfg.TickInterval)
	defer ticker.Stop()
	// Made at the first proposal (takeProposals): an idle replica goes
	// without its 32 KiB.
	var batch []*proposal
	for {
		select {
		case <-h.stop:
			h.shutdown()
			return
		case <-ticker.C:
			h.noteLogStopped()
			h.noteLeaderLeft()
			h.eng.Tick()
			f, n := h.eng.ElectionSlowdown()
			h.slowdown.Store(f)
			h.slowdowns.Store(n)
			// A write that outlasts a tick (a disk that stalls) holds
			// proposals no longer: the followers' copies commit them.
			h.proposeHeld()
			h.checkMembership()
			if h.checkRetire() {
				h.shutdown()
				return
			}
			if b := h.unpin.Load(); b != 0 {
				h.unpinLog(b)
			}
			if h.confRetry || h.eng.Ticks()%reconcileTicks == 0 {
				h.reconcile()
			}
		case r := <-h.ckpt.done:
			h.finishCheckpoint(r)
		case o := <-h.snapc:
			h.eng.ReportSnapshot(o.id, o.failed)
		case id := <-h.joinc:
			h.joinReqs[id] = true
			h.reconcile()
		case d := <-h.declinec:
			h.noteDecline(d)
		case p := <-h.propc:
			batch = h.takeProposals(p, batch)
			batch = h.drainInputs(batch)
		case a := <-h.abandonc:
			h.abandon(a)
		case m := <-h.recvc:
			h.stepReceived(m)
			batch = h.drainInputs(batch)
		case rq := <-h.readc:
			h.readSeq++
			rq.id = h.readSeq
			h.reads[rq.id] = rq
			h.eng.Read(rq.id)
		case <-h.wwake:
			h.writesDone()
			batch = h.drainInputs(batch)
		}
		for h.eng.HasReady() {
			if !h.handleReady() {
				h.loseReplica()
				return
			}
		}
		h.checkpointRelogged()
	}
}

// takeProposals takes p and the proposals queued behind it, up to
// maxBatch, and hands them to the engine; batch is the buffer to use, made
// if nil, and returned.
func (h *Heap) takeProposals(p *proposal, batch []*proposal) []*proposal {
	if batch == nil {
		batch = make([]*proposal, 0, maxBatch)
	}
	batch = batch[:0]
	if h.takeOpen(p) {
		batch = append(batch, p)
	}
drain:
	for len(batch) < maxBatch {
		select {
		case p := <-h.propc:
			if h.takeOpen(p) {
				batch = append(batch, p)
			}
		default:
			break drain
		}
	}
	switch {
	case len(batch) == 0:
	case h.inflight > 0 && len(h.held)+len(batch) < maxBatch:
		// The log is writing: these wait for its answer, and go to
		// raft with what else arrives meanwhile (see held).
		h.held = append(h.held, batch...)
		if f := h.heldHook.Load(); f != nil {
			(*f)()
		}
	default:
		h.proposeHeld()
		h.propose(batch)
	}
	clear(batch)
	return batch
}

// takeOpen takes p for the engine unless the heap is closing. The loop's
// select takes a proposal as readily as the stop once both are ready, and
// a proposal taken then went to raft as the replica shut down: its
// caller, whose Update had seen the heap closed, got an unknown outcome
// for a commit that need never have been proposed. Left untaken, it is
// answered ErrClosed by its caller once the loop is done (commit).
func (h *Heap) takeOpen(p *proposal) bool {
	return !h.isClosed() && p.take()
}

// proposeHeld hands the proposals held while the log wrote to the engine.
func (h *Heap) proposeHeld() {
	if len(h.held) > 0 {
		h.propose(h.held)
		clear(h.held)
		h.held = h.held[:0]
	}
}

// drainInputs takes, without waiting, what else has arrived for the
// loop's hot path (proposals, peers' messages, the log's answers) before
// it handles a Ready: the loop does not wait for its log, so without it
// every arrival would make a Ready of its own, and each Ready a message
// to every follower: fewer, larger appends and acknowledgements.
// It returns batch, made if a proposal came and it was nil.
func (h *Heap) drainInputs(batch []*proposal) []*proposal {
drain:
	for range maxBatch {
		select {
		case p := <-h.propc:
			batch = h.takeProposals(p, batch)
		case m := <-h.recvc:
			h.stepReceived(m)
		case <-h.wwake:
			h.writesDone()
		default:
			break drain
		}
	}
	h.joinAppends()
	return batch
}

// joinAppends hands the held proposals to raft when this replica leads
// and is about to send its followers appends anyway: an acknowledgement
// that moved the commit index (raft sends it to every follower at once),
// a follower's forwarded proposals (raft appends and sends them at once).
// The held entries then ride in those appends rather than in one more a
// sync later: no more messages, and a leader's own callers wait for a
// part of its sync rather than all of it. A follower keeps holding them
// to its log's answer, which its acknowledgement to the leader waits for
// too.
func (h *Heap) joinAppends() {
	if len(h.held) > 0 && h.eng.Lead() == h.self && h.eng.HasReady() {
		h.proposeHeld()
	}
}

// loseReplica stops a replica that cannot go on (a snapshot from the
// leader that does not decode; a raft that panicked on state the log lost,
// lostState): it fails what waits, closes the heap on this node and leaves
// the node serving its other heaps. A restart, which gives the node a new
// identity, rebuilds the replica from its peers; a durable node needs its
// data directory moved aside for that, as h.lost says when it is
// ErrCorrupt.
func (h *Heap) loseReplica() {
	if errors.Is(h.lost, ErrCorrupt) {
		h.log.Error("replica lost: its data directory lost what it acknowledged", "err", h.lost)
	} else {
		h.log.Error("replica lost: it cannot apply what its leader sent; restart the node to rebuild it from its peers", "err", h.lost)
	}
	h.watchMu.Lock()
	if !h.closed {
		h.closed = true
		close(h.stop)
	}
	h.watchMu.Unlock()
	h.shutdown()
	// The closed replica stays in the node's table, so that the group's
	// messages do not open an empty one under the same raft ID: raft
	// assumes a member never loses what it acknowledged.
}

// lostState recovers a panic raft raised on the loop (raftPanic): the
// replica's state contradicts its group's, as when a leader's commit index
// lies past the end of a log that acknowledged it, and raft cannot go on
// with it. The replica is closed as lost, and the rest of the node goes
// on; before, the panic ended the process. Any other panic is not ours to
// hide.
func (h *Heap) lostState() {
	r := recover()
	if r == nil {
		return
	}
	p, ok := r.(raftPanic)
	if !ok {
		panic(r)
	}
	h.lost = fmt.Errorf("%w: heap %q: raft: %s; move the data directory aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, h.name, string(p))
	h.loseReplica()
}

func (h *Heap) step(m raftpb.Message) {
	h.contact.heard(m)
	if m.Type == raftpb.MsgAppResp {
		h.sent.forget(m.From) // the next append may repeat the last
	}
	h.eng.Step(m)
}

// noteLeaderLeft tells the engine whether the replica's leader is a node
// that left the cluster, which would take no proposal forwarded to it.
func (h *Heap) noteLeaderLeft() {
	lead := h.eng.Lead()
	if lead == 0 || lead == h.self || h.node == nil || !h.node.hasLeft(lead) {
		lead = 0
	}
	h.eng.LeaderLeft(lead)
}

// propose hands a batch of taken proposals to the engine; from then on
// the engine answers each, in a Ready.
func (h *Heap) propose(batch []*proposal) {
	h.noteLeaderLeft()
	for _, p := range batch {
		h.props = append(h.props, engine.Proposal{TxID: p.txid, Data: p.data})
		h.pending[p.txid] = p
	}
	h.eng.Propose(h.props)
	clear(h.props)
	h.props = h.props[:0]
}

// abandon stops proposing a taken proposal again; its outcome stays as it
// is. The loop hands every proposal it takes to the engine in the same
// iteration, and every answer the engine gives before it waits again, so
// one taken and not pending has been answered.
func (h *Heap) abandon(a abandon) {
	if i := slices.IndexFunc(h.held, func(p *proposal) bool { return p.txid == a.txid }); i >= 0 {
		// Held, never handed to raft: it is dropped.
		h.held = slices.Delete(h.held, i, i+1)
		a.proposed <- false
		return
	}
	delete(h.pending, a.txid)
	a.proposed <- h.eng.Abandon(a.txid)
}

// handleReady carries out one Ready of the engine in the order its package
// requires: send its messages (a leader's appends go out before its own
// write, so that the followers write them meanwhile; answers that vouch
// for a write come once it is durable), hand its writes to the log
// without waiting for them (writesDone reports them), apply the committed
// entries (ApplyLater: only what is durable here is applied, so none of
// the sends or the write waits for it), hand out the outcomes, then what
// follows. A Ready that installs a leader's snapshot hands out its
// outcomes once the snapshot is stored. It reports false if the replica
// cannot go on.
func (h *Heap) handleReady() bool {
	rd := h.eng.Ready()
	if rd.Err != nil {
		h.lost = rd.Err
		return false
	}
	first := rd.OutcomesFirst()
	if rd.Retry {
		h.rewriting = true
	}
	if rd.WriteFirst {
		h.sendReady(&rd)
		if !h.writeFirst(rd.Writes) {
			return true // refused: the engine holds the Ready
		}
	} else {
		// The write is handed to the log before the messages go: the
		// goroutines woken last run first, and a commit waits for the
		// followers' copies, not the leader's (docs/design.md, "One
		// hand-off less a message").
		ok := h.writeAsync(rd.Writes)
		h.sendReady(&rd)
		if !ok {
			// Refused as it was encoded: the engine holds the Ready
			// and hands it out again, with its outcomes and change
			// sets, once the log takes its write (engine.DiskFailed).
			// Carried out now too, the watches would see its changes
			// twice.
			return true
		}
	}
	if f := h.wroteHook.Load(); f != nil {
		(*f)(rd.Writes)
	}
	h.eng.Apply(&rd)
	if first {
		h.outcomes(rd, false)
	}
	h.finishReady(rd, !first)
	h.eng.Advance()
	return true
}

// sendReady sends rd's messages: Early, which may go before its write
// is durable, and the rest.
func (h *Heap) sendReady(rd *engine.Ready) {
	if rd.HasRaft {
		h.send(rd.Early)
	}
	h.send(rd.Messages)
}

// diskStuck reports a log write the log refused to the engine, which holds
// its Ready: nothing of it is sent or applied until the log takes it,
// which the engine offers again every tick. Commits waiting fail, their
// outcome unknown (their entries may yet be written, or be in a leader's
// log), except those raft never took, which certainly failed; new ones
// fail at once; reads of the local state go on. A log that has stopped
// (persist.ErrFailed: a sync failed) takes nothing until the node
// restarts: the replica stays stopped until then.
func (h *Heap) diskStuck(retry bool, err error) {
	// Every write in flight is made again, on a new chain; answers to
	// those made before are stale.
	h.epoch++
	h.chain = new(persist.Chain)
	h.lastHard = h.hardDone
	h.rewriting = false
	h.stuck.Store(&err)
	if !retry {
		if errors.Is(err, persist.ErrGone) {
			h.log.Error("the write-ahead log is gone from the data directory; this replica commits nothing more", "err", err)
		} else if errors.Is(err, persist.ErrFailed) {
			h.log.Error("the write-ahead log has failed; this replica commits nothing until the node restarts", "err", err)
		} else {
			h.log.Error("cannot write the log; commits fail until it can", "err", err)
		}
	}
	h.eng.DiskFailed(err)
}

// noteLogStopped stops the replica once the node's log has stopped
// (persist.ErrFailed: a segment gone, a sync that no seal mends), whether
// or not the replica wrote since: the engine holds it as a refused write,
// so a leader sends no more heartbeats and its followers elect one that
// can append, and waiting commits fail. Before, a replica that had nothing
// to write (an idle heap, the catalog) went on leading, its heartbeats
// vouching for a leader that could not append: the next commit failed,
// and every one after it, while the others waited for a leader. The
// first replica to find the stop has the node step aside (stepAside).
func (h *Heap) noteLogStopped() {
	if h.logStopped {
		return
	}
	wal := h.node.walOf()
	if wal == nil {
		return
	}
	if err := wal.Failed(); err != nil {
		h.logStopped = true
		h.diskStuck(false, err)
		h.forgetLeader()
		n := h.node
		n.logStopped.Do(func() { n.wg.Go(n.stepAside) })
	}
}

// forgetLeader makes a replica whose log has stopped know no leader, and
// lead nothing: the engine holds its Readies from then on, so the soft
// state raft hands out reaches nothing here, and the leader it last named
// stays named. A leader whose log stopped sends no heartbeats and the
// others elect another; left as it was, it went on saying it led, beside
// the one they elected, for as long as it stayed up: oss_is_leader 1, the
// heap among the node's leads (ossd status' LEADS, the dashboard), Stats
// with its leader in reach.
func (h *Heap) forgetLeader() {
	if h.leader.Swap(0) != 0 {
		h.leaderChanges.Add(1)
	}
	h.leads.note(raft.StateFollower, h.term.Load(), h.state.Load().Index())
}

// logError says why the log did not take a Ready, for a commit that
// failed on it: a definite failure matches ErrDisk, an unknown outcome
// (the record may be in another member's log, and commit there) only
// ErrCommitUnknown, as neither says nothing was committed. Both match the
// log's error (syscall.ENOSPC, persist.ErrGone).
func (h *Heap) logError(err error, unknown bool) error {
	var why error
	switch {
	case errors.Is(err, persist.ErrGone):
		why = fmt.Errorf("heap %q: the node's write-ahead log is gone (removed or moved while the node ran); it commits nothing more, and restarted it refuses to start: start it empty, with Join, to rebuild its replicas from its peers: %w", h.name, err)
	case errors.Is(err, persist.ErrFailed):
		why = fmt.Errorf("heap %q: the write-ahead log has failed; restart the node: %w", h.name, err)
	default:
		why = fmt.Errorf("heap %q: the log cannot be written: %w", h.name, err)
	}
	if unknown {
		return &UnknownOutcomeError{Err: why}
	}
	return fmt.Errorf("%w: %w", ErrDisk, why)
}

// finishReady carries out a Ready whose log write, if any, is durable,
// its outcomes too if outcomes is set.
func (h *Heap) finishReady(rd engine.Ready, outcomes bool) {
	replaced := rd.HasRaft && !raft.IsEmptySnap(rd.Snapshot)
	if rd.HasRaft {
		if replaced {
			h.snapshots.Add(1)
			h.needFull = !consistency.DecodedApart(rd.Snapshot.Data) // the state was replaced whole; persist stored one decoded apart
			clear(h.dirty)
		}
		if !raft.IsEmptyHardState(rd.HardState) {
			h.term.Store(rd.HardState.Term)
			h.contact.commit(rd.HardState.Commit)
		}
		for _, rs := range rd.ReadStates {
			h.contact.commit(rs.Index) // the leader's commit index
		}
	}
	if outcomes {
		h.outcomes(rd, replaced)
	}
	if rd.HasRaft && h.name == catalogName && rd.State != nil {
		h.node.catalogApplied(rd.CommittedEntries, rd.State.Index())
	}
	if rd.SoftState != nil {
		if h.leader.Swap(rd.SoftState.Lead) != rd.SoftState.Lead {
			h.leaderChanges.Add(1)
		}
		h.leads.note(rd.SoftState.RaftState, h.term.Load(), rd.State.Index())
	}
	if rd.LeftOut && h.inConf.Load() {
		h.contact.dropped.Store(true) // left out, perhaps taken back in the same Ready
		if rd.State != nil && rd.State.Index() <= h.contact.retiredAt {
			h.contact.told.Store(true) // the retired replica's removal, applied again from an older snapshot
		}
	}
	h.noteAdded(rd.Added, rd.Conf)
	if rd.Conf != nil {
		h.noteConf(*rd.Conf, true)
	}
	if h.contact.dropped.Load() && h.inConf.Load() && h.contact.dropped.Swap(false) {
		if len(rd.CommittedEntries) > 0 && rd.CommittedEntries[0].Index <= h.contact.retiredAt {
			h.contact.told.Store(true) // the retired replica's removal, not this one's
		}
		h.noteRemoved("taken back")
		h.contact.told.Store(false) // that removal is over: the next one counts
	} else if replaced && h.inConf.Load() {
		h.contact.told.Store(false) // back by a leader's snapshot, which a leader sends only to a member
	}
	if rd.Checkpoint != 0 {
		h.checkpointAt(rd.Checkpoint)
	}
}

// outcomes publishes a Ready's state, then hands out its results and
// change sets and answers its reads; replaced says the state was
// replaced whole by a leader's snapshot.
func (h *Heap) outcomes(rd engine.Ready, replaced bool) {
	if rd.HasRaft {
		h.state.Store(rd.State)
		h.noteConflicts(rd.Results)
		h.gates.observe(rd.Results, rd.Changes)
		if replaced || len(rd.Changes) > 0 {
			h.wakeWaiters(rd.State, rd.Changes, replaced)
		}
	}
	h.complete(rd.Completions)
	if rd.HasRaft {
		if h.dirty != nil {
			for _, cs := range rd.Changes {
				for _, c := range cs.Objects {
					h.dirty[c.ID] = dirtyOf(c)
				}
			}
		}
		if replaced {
			h.resyncWatches(rd.Snapshot.Metadata.Index)
		}
		if len(rd.Changes) > 0 {
			h.deliver(rd.Changes)
		}
	}
	h.answerReads(rd.Reads)
}

// complete answers the proposals the engine is done with.
func (h *Heap) complete(cs []engine.Completion) {
	for _, c := range cs {
		p, ok := h.pending[c.TxID]
		if !ok {
			continue
		}
		delete(h.pending, c.TxID)
		if c.Err != nil {
			p.answer(proposalResult{err: h.commitError(c.Err)})
			continue
		}
		p.answer(proposalResult{res: c.Result})
	}
}

// commitError is the error a commit the engine failed returns.
func (h *Heap) commitError(f *engine.Failure) error {
	var err error
	switch f.Reason {
	case engine.NoLeaderFor:
		err = fmt.Errorf("%w: heap %q has had no leader for %v", ErrNoQuorum, h.name, time.Duration(f.Ticks)*h.cfg.TickInterval)
	case engine.NoLeaderInReach:
		if f.Unknown {
			// Not ErrNoQuorum: that says nothing was committed.
			return &UnknownOutcomeError{Err: fmt.Errorf("heap %q has no leader in reach", h.name)}
		}
		err = fmt.Errorf("%w: heap %q has no leader in reach", ErrNoQuorum, h.name)
	case engine.LogRefused:
		return h.logError(f.Err, f.Unknown)
	case engine.ResentStale:
		err = errors.New("resent commit record older than the deduplication window")
	case engine.Closed:
		if f.Unknown {
			return &UnknownOutcomeError{Err: errClosedUndecided}
		}
		err = h.loopClosedErr()
	default:
		err = fmt.Errorf("oss: heap %q: %w", h.name, f)
	}
	if f.Unknown {
		return &UnknownOutcomeError{Err: err}
	}
	return err
}

// answerReads answers the reads the engine is done with.
func (h *Heap) answerReads(reads []engine.ReadDone) {
	for _, a := range reads {
		rq, ok := h.reads[a.ID]
		if !ok {
			continue
		}
		delete(h.reads, a.ID)
		switch {
		case a.Err == nil:
			rq.done <- nil
		case a.Err.Reason == engine.Closed:
			rq.done <- h.loopClosedErr()
		default:
			rq.done <- fmt.Errorf("%w: heap %q has no leader in reach", ErrNoQuorum, h.name)
		}
	}
}

// shutdown fails everything still waiting on the loop.
func (h *Heap) shutdown() {
	h.diskWait.Store(true) // a checkpoint may be under way (askAbandon)
	h.stopCheckpoints()
	if h.storage != nil {
		h.storage.close()
	}
	h.diskWait.Store(false)
	// What the engine has fails first: an abandon taken below then finds
	// its proposal answered.
	h.eng.Close()
	for h.eng.HasReady() {
		rd := h.eng.Ready()
		h.complete(rd.Completions)
		h.answerReads(rd.Reads)
		h.eng.Advance()
	}
	for _, p := range h.held {
		p.answer(proposalResult{err: h.loopClosedErr()}) // never proposed
	}
	h.held = nil
	for {
		select {
		case p := <-h.propc:
			if p.take() {
				p.answer(proposalResult{err: h.loopClosedErr()})
			}
			continue
		case a := <-h.abandonc:
			h.abandon(a)
		case m := <-h.recvc:
			h.recvq.taken(m)
			if h.lost == nil { // a raft that panicked takes nothing more
				h.eng.Step(*m)
			}
		case rq := <-h.readc:
			rq.done <- h.loopClosedErr()
			continue
		default:
		}
		break
	}
}
