package engine

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// The engine's tests that hold for both kinds of log write, run with
// asynchronous writes.
func TestAsyncWrites(t *testing.T) {
	asyncWrites = true
	defer func() { asyncWrites = false }()
	for name, test := range map[string]func(*testing.T){
		"ProposeCommitsWithLeader":     TestProposeCommitsWithLeader,
		"ProposeWithoutLeaderWaits":    TestProposeWithoutLeaderWaitsForOne,
		"ResendAfterResendTicks":       TestResendAfterResendTicks,
		"HeldProposalIsNotResent":      TestHeldProposalIsNotResent,
		"ResendBacksOff":               TestResendBacksOff,
		"DroppedByALeaderChange":       TestProposalDroppedByALeaderChangeIsResent,
		"CoveredByASnapshot":           TestProposalCoveredByASnapshotIsAnsweredByIt,
		"CoveredPastTheWindow":         TestProposalCoveredByASnapshotPastTheWindowIsResent,
		"FollowerFedOnlySnapshots":     TestProposalOfAFollowerFedOnlySnapshotsIsAnswered,
		"SnapshotAnswersEachCovered":   TestSnapshotAnswersEachCoveredProposalWithItsOwnDecision,
		"SnapshotAnswersRepeatable":    TestSnapshotAnswersAreRepeatableUntilAdvance,
		"SnapshotRefusedAnswersOnce":   TestSnapshotRefusedByTheLogAnswersOnce,
		"SnapshotAnswersInAFixedOrder": TestSnapshotAnswersInAFixedOrder,
		"SnapshotPinsAtMostMaxLog":     TestSnapshotNeverReportedPinsAtMostMaxLogBytes,
		"SilentSnapshotFollower":       TestSilentFollowerBeingSentASnapshotPinsForItsGrace,
		"SilentProbedAfterSnapshot":    TestSilentFollowerProbedAfterASnapshotPinsForItsGrace,
		"HeldByADeposedLeader":         TestHeldProposalOfADeposedLeaderIsResent,
		"HeldOverwrittenOnAFollower":   TestHeldProposalOverwrittenOnAFollowerIsResent,
		"HeldWhenTheLogRefuses":        TestHeldProposalWhenTheLogRefuses,
		"DroppedDuringATransfer":       TestProposalDroppedDuringATransferIsResent,
		"ProposalsEndOnceFaultsHeal":   TestProposalsEndOnceFaultsHeal,
		"UnseenResentInANewTerm":       TestUnseenProposalIsResentInANewTerm,
		"Abandon":                      TestAbandon,
		"AbandonUnknownProposal":       TestAbandonUnknownProposal,
		"StaleDecision":                TestStaleDecision,
		"Leaderless":                   TestLeaderless,
		"ReadIndexAskedAgain":          TestReadIndexAskedAgain,
		"DiskRefused":                  TestDiskRefused,
		"CheckpointAndCompaction":      TestCheckpointAndCompaction,
		"CloseFailsEverything":         TestCloseFailsEverything,
		"ConfReportedOnChange":         TestConfReportedOnChange,
		"ReplicaLost":                  TestReplicaLost,
		"OutcomesBeforeARefusedWrite":  TestOutcomesBeforeARefusedWrite,
		"LeaderAppliesOnlyWhatItWrote": TestLeaderAppliesOnlyWhatItWrote,
		"LeaderDropsLargeCopies":       TestLeaderDropsForwardedCopiesOfALargeRecord,
		"CopyOfAnAppliedLargeRecord":   TestCopyOfAnAppliedLargeRecordIsAppended,
		"LargeRecordWaitsLonger":       TestLargeRecordWaitsLongerBeforeGoingAgain,
	} {
		t.Run(name, test)
	}
}

// The same with the apply apart from the Ready (Config.ApplyApart), as
// package oss runs them.
func TestAsyncWritesApplyApart(t *testing.T) {
	applyApart = true
	defer func() { applyApart = false }()
	TestAsyncWrites(t)
}

// With ApplyApart, the Ready in which a leader commits an entry hands out
// the appends that carry the commit index before the replica applies the
// entry; Apply then fills in its result and completion.
func TestApplyApartSendsBeforeApplying(t *testing.T) {
	applyApart = true
	defer func() { applyApart = false }()
	c := asyncCluster(t, 3)
	c.elect(1)
	n := c.node(1)
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	rd := n.e.Ready()
	idx := rd.Writes[0].Entries[0].Index
	n.e.Apply(&rd)
	n.e.Advance()
	n.e.Written(rd.Writes[0].Seq)
	for _, f := range c.nodes[1:] {
		for _, m := range rd.Early {
			if m.To == f.id {
				f.e.Step(m)
			}
		}
		frd := f.e.Ready()
		f.e.Apply(&frd)
		f.e.Advance()
		f.e.Written(frd.Writes[0].Seq)
		frd = f.e.Ready()
		f.e.Apply(&frd)
		f.e.Advance()
		for _, m := range frd.Messages {
			n.e.Step(m)
		}
	}
	rd = n.e.Ready()
	commits := 0
	for _, m := range rd.Early {
		if m.Type == raftpb.MsgApp && m.Commit >= idx {
			commits++
		}
	}
	if !rd.ApplyLater || commits != 2 || len(rd.Results) != 0 || len(rd.Completions) != 0 || rd.State.Index() >= idx {
		t.Fatalf("before Apply: later %v, %d appends with the commit index (want 2), %d results, %d completions, state at %d (entry %d)",
			rd.ApplyLater, commits, len(rd.Results), len(rd.Completions), rd.State.Index(), idx)
	}
	n.e.Apply(&rd)
	if len(rd.Results) != 1 || rd.Results[0].TxID != p.TxID || rd.Results[0].Outcome != consistency.Committed ||
		len(rd.Completions) != 1 || rd.Completions[0].TxID != p.TxID || rd.State.Index() < idx {
		t.Fatalf("after Apply: results %+v, completions %+v, state at %d", rd.Results, rd.Completions, rd.State.Index())
	}
	n.e.Advance()
}

// asyncCluster is newCluster with asynchronous writes.
func asyncCluster(t *testing.T, n int) *cluster {
	asyncWrites = true
	defer func() { asyncWrites = false }()
	return newCluster(t, n, nil)
}

// A replica's answers that vouch for a write go out only once it is
// durable; its appends to followers go out at once.
func TestAsyncAnswersWaitForTheWrite(t *testing.T) {
	c := asyncCluster(t, 3)
	c.elect(1)
	n, f := c.node(1), c.node(2)
	n.e.Propose([]Proposal{prop(t, n.applied())})
	rd := n.e.Ready()
	apps := 0
	for _, m := range rd.Early {
		if m.Type == raftpb.MsgApp && len(m.Entries) > 0 {
			apps++
		}
	}
	if apps != 2 || len(rd.Writes) != 1 || len(rd.Writes[0].Entries) != 1 {
		t.Fatalf("leader: %d appends with entries early (want 2), %d writes", apps, len(rd.Writes))
	}
	n.e.Advance()
	for _, m := range rd.Early {
		if m.To == f.id {
			f.e.Step(m)
		}
	}
	rd = f.e.Ready()
	if len(rd.Early)+len(rd.Messages) != 0 || len(rd.Writes) != 1 {
		t.Fatalf("follower before its write: early %v, messages %v, %d writes", rd.Early, rd.Messages, len(rd.Writes))
	}
	f.e.Advance()
	f.e.Written(rd.Writes[0].Seq)
	rd = f.e.Ready()
	if len(rd.Messages) != 1 || rd.Messages[0].Type != raftpb.MsgAppResp || rd.Messages[0].To != n.id {
		t.Fatalf("follower once durable: messages %v, want its acknowledgement", rd.Messages)
	}
	f.e.Advance()
}

// A leader appends and sends the next batch while its write is in flight,
// and commits with its followers' copies; it applies, and answers, only
// once its own write is durable. With one follower cut off, the leader's
// copy is needed, and counts only once written.
func TestAsyncLeaderWritesWhileItSends(t *testing.T) {
	c := asyncCluster(t, 3)
	c.elect(1)
	n := c.node(1)
	n.hold = true
	p1 := prop(t, n.applied())
	n.e.Propose([]Proposal{p1})
	c.settle()
	p2 := prop(t, n.applied())
	n.e.Propose([]Proposal{p2})
	c.settle()
	last := n.e.Replica().FullStatus().Progress[2].Match
	if len(n.queued) < 2 || c.node(2).applied() < last || c.node(3).applied() < last {
		t.Fatalf("%d writes in flight on the leader (want both batches'); followers applied %d, %d, want %d",
			len(n.queued), c.node(2).applied(), c.node(3).applied(), last)
	}
	if n.n[p1.TxID]+n.n[p2.TxID] != 0 || n.applied() >= last {
		t.Fatalf("the leader answered or applied (%d) before its own write", n.applied())
	}
	n.hold = false
	c.settle()
	for _, p := range []Proposal{p1, p2} {
		if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
			t.Fatalf("%+v, want committed", cp)
		}
	}

	c.cut(3)
	n.hold = true
	p3 := prop(t, n.applied())
	n.e.Propose([]Proposal{p3})
	c.settle()
	idx := n.e.Replica().FullStatus().Progress[2].Match
	if got := n.e.Replica().Status().Commit; got >= idx {
		t.Fatalf("index %d committed with the follower's copy alone (commit %d)", idx, got)
	}
	n.hold = false
	c.settle()
	if got := n.e.Replica().Status().Commit; got < idx {
		t.Fatalf("commit %d once the leader's write is durable, want %d", got, idx)
	}
	if cp := n.result(t, p3); cp.Err != nil {
		t.Fatalf("%+v, want committed", cp)
	}
}

// A refused write fails what waits; it and every write after it are
// offered again, in order, until the log takes them, and nothing is
// answered twice.
func TestAsyncRefusedWritesAreMadeAgainInOrder(t *testing.T) {
	c := asyncCluster(t, 3)
	c.elect(1)
	n := c.node(1)
	n.hold = true
	p1, p2 := prop(t, n.applied()), prop(t, n.applied())
	n.e.Propose([]Proposal{p1})
	c.settle()
	n.e.Propose([]Proposal{p2})
	c.settle()
	if len(n.queued) < 2 {
		t.Fatalf("%d writes in flight, want both batches'", len(n.queued))
	}
	first, inflight := n.queued[0], len(n.queued)
	n.hold, n.disk = false, errors.New("disk full")
	c.settle()
	wantFailure(t, n.result(t, p1), LogRefused, true)
	wantFailure(t, n.result(t, p2), LogRefused, true)
	c.tick(2)
	if n.retries != 2 {
		t.Fatalf("writes offered again %d times in 2 ticks, want 2", n.retries)
	}
	n.disk = nil
	rd := n.e.Ready() // nothing: the retry waits for a tick
	if len(rd.Writes) != 0 {
		t.Fatalf("writes offered again before a tick: %v", rd.Writes)
	}
	n.e.Advance()
	n.e.Tick()
	rd = n.e.Ready()
	if !rd.Retry || len(rd.Writes) != inflight {
		t.Fatalf("retry %v of %d writes, want the %d in flight", rd.Retry, len(rd.Writes), inflight)
	}
	for i, w := range rd.Writes {
		if w.Seq != first+uint64(i) {
			t.Fatalf("write %d offered again is %d, want %d: out of order", i, w.Seq, first+uint64(i))
		}
		n.queued = append(n.queued, w.Seq)
	}
	n.e.Advance()
	c.settle()
	if n.n[p1.TxID] != 1 || n.n[p2.TxID] != 1 || n.applied() < c.node(2).applied() {
		t.Fatalf("after the retry: answered %d and %d times (want once), applied %d of %d",
			n.n[p1.TxID], n.n[p2.TxID], n.applied(), c.node(2).applied())
	}
	p3 := prop(t, n.applied())
	n.e.Propose([]Proposal{p3})
	c.settle()
	if cp := n.result(t, p3); cp.Err != nil {
		t.Fatalf("once the log takes writes again: %+v", cp)
	}
}

// A Ready that installs a leader's snapshot is written before its
// outcomes are handed out (WriteFirst); refused, it is held and offered
// again, its state not handed out until the log takes it.
func TestAsyncSnapshotIsWrittenFirst(t *testing.T) {
	c := asyncCluster(t, 3)
	c.elect(1)
	c.cut(3)
	n, f := c.node(1), c.node(3)
	for range 3 {
		n.e.Propose([]Proposal{prop(t, n.applied())})
		c.settle()
	}
	snap := snapshotOf(t, n, f.id)
	idx := snap.Snapshot.Metadata.Index
	f.disk = errors.New("disk full")
	f.e.Step(snap)
	rd := f.e.Ready()
	if !rd.WriteFirst || rd.OutcomesFirst() || len(rd.Writes) != 1 || rd.Writes[0].Snapshot.Metadata.Index != idx {
		t.Fatalf("snapshot Ready: write first %v, outcomes first %v, %d writes", rd.WriteFirst, rd.OutcomesFirst(), len(rd.Writes))
	}
	f.queued = append(f.queued, rd.Writes[0].Seq)
	if f.flush() {
		t.Fatal("the refused write was taken")
	}
	if snap, _ := f.st.Snapshot(); snap.Metadata.Index == idx {
		t.Fatal("the log in memory holds a snapshot the log refused")
	}
	f.e.Tick()
	c.handle(f)
	if f.retries != 1 {
		t.Fatalf("the held snapshot offered %d times after a tick, want 1", f.retries)
	}
	f.disk = nil
	f.e.Tick()
	c.handle(f)
	if snap, _ := f.st.Snapshot(); snap.Metadata.Index != idx || f.applied() != idx {
		t.Fatalf("after the retry: snapshot at %d in the log, applied %d; want %d", snap.Metadata.Index, f.applied(), idx)
	}
	c.drop = nil
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	c.settle()
	if f.applied() < n.applied() {
		t.Fatalf("the follower applied %d after the snapshot, the leader %d", f.applied(), n.applied())
	}
}

// With ApplyApart, an owner that advances a Ready without calling Apply
// (the engine applies it then, as raft requires) still hands out, in a
// later Ready, the completions that apply decides: a commit reported
// nowhere would never end.
func TestApplyApartAdvanceWithoutApplyStillCompletes(t *testing.T) {
	applyApart = true
	defer func() { applyApart = false }()
	c := asyncCluster(t, 3)
	c.elect(1)
	n := c.node(1)
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	skipped := false
	for range 100 {
		for _, o := range c.nodes[1:] {
			c.handle(o)
		}
		for n.e.HasReady() {
			rd := n.e.Ready()
			c.msgs = append(c.msgs, rd.Early...)
			c.msgs = append(c.msgs, rd.Messages...)
			if !skipped && rd.ApplyLater && n.e.rd.CommittedEntries != nil {
				skipped = true // advanced without Apply
			} else {
				n.e.Apply(&rd)
				n.outcomes(rd)
			}
			n.e.Advance()
			for _, w := range rd.Writes {
				n.e.Written(w.Seq)
			}
		}
		msgs := c.msgs
		c.msgs = nil
		for _, m := range msgs {
			c.node(m.To).e.Step(m)
		}
		if _, ok := n.out[p.TxID]; ok {
			break
		}
	}
	if !skipped {
		t.Fatal("no Ready committed the proposal")
	}
	cp, ok := n.out[p.TxID]
	if !ok || cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("proposal applied in a Ready advanced without Apply: completion %+v (handed out %v), want committed", cp, ok)
	}
}

// With ApplyApart, a log that refuses a Ready's write between the Ready
// and its Apply (package oss's loop reports a write it cannot encode at
// once) does not turn the outcomes that Ready's apply decides into
// failures: its committed entries were durable here before it, and a
// commit applied here is reported committed, as it was when the apply
// came with the Ready.
func TestApplyApartRefusedBeforeApplyReportsTheApplied(t *testing.T) {
	applyApart = true
	defer func() { applyApart = false }()
	c := asyncCluster(t, 3)
	c.elect(1)
	n := c.node(1)
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	refused := false
	for range 100 {
		for _, o := range c.nodes[1:] {
			c.handle(o)
		}
		for !refused && n.e.HasReady() {
			rd := n.e.Ready()
			c.msgs = append(c.msgs, rd.Early...)
			c.msgs = append(c.msgs, rd.Messages...)
			if rd.ApplyLater && len(n.e.rd.CommittedEntries) > 0 {
				refused = true
				n.e.DiskFailed(errors.New("cannot encode the write"))
			}
			n.e.Apply(&rd)
			n.outcomes(rd)
			n.e.Advance()
			if !refused {
				for _, w := range rd.Writes {
					n.e.Written(w.Seq)
				}
			}
		}
		msgs := c.msgs
		c.msgs = nil
		for _, m := range msgs {
			c.node(m.To).e.Step(m)
		}
		if refused {
			break
		}
	}
	for n.e.HasReady() { // the failures the refusal brings
		rd := n.e.Ready()
		n.e.Apply(&rd)
		n.outcomes(rd)
		n.e.Advance()
	}
	if !refused {
		t.Fatal("no Ready committed the proposal")
	}
	cp, ok := n.out[p.TxID]
	if !ok || cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("applied in the Ready whose write was refused: completion %+v, err %v (handed out %v), want committed", cp.Result, cp.Err, ok)
	}
}
