// Package consistency is the deterministic core of an OSS heap replica: an
// etcd raft RawNode and the heap's object state, with the rules that decide
// and apply commit records.
//
// # Overview
//
// A heap is a set of objects, each with an ID, a CBOR value and a version:
// the index of the log entry that last wrote it. A transaction reads a
// snapshot of the heap (a State at applied index S), buffers its writes, and
// ends in a commit record (Record): S, the versions it read, the roots it
// read, whether it enumerated the heap, and its writes. The record becomes a
// normal entry of the heap's raft log. Every replica applies the log in order
// and decides each record the same way: it commits if every object and root
// it read still has the version it read (0 standing for "absent") and, if it
// enumerated the heap, no object was created or deleted after S. Otherwise
// it is Conflicted and writes nothing. A record whose transaction ID was
// already decided reports the first decision again and writes nothing, so a
// record sent twice takes effect at most once.
//
// The package has no goroutines, no I/O, no clocks and no randomness. Time
// enters as Tick, messages as Step, local requests as Propose and
// ReadIndex; everything it wants done leaves as a Ready.
//
// # Usage
//
// One goroutine owns a Replica and loops:
//
//	for {
//		select {
//		case <-ticker: r.Tick()
//		case m := <-incoming: r.Step(m)
//		case recs := <-proposals: r.Propose(recs...)
//		}
//		for r.HasReady() {
//			rd := r.Ready()
//			// 1. Persist rd.HardState, rd.Entries and rd.Snapshot to the
//			//    raft storage (and sync if rd.MustSync).
//			// 2. Send rd.Messages.
//			// 3. Publish rd.State to readers, then report rd.Results to the
//			//    waiting transactions and deliver rd.Changes to watches, in
//			//    that order, so a caller told "committed" can read its write.
//			// 4. Answer rd.ReadStates once the applied index reaches them.
//			r.Advance(rd)
//		}
//	}
//
// Ready applies the committed entries before it returns; committed entries
// are already durable on a quorum, so applying them before step 1 is safe,
// and so is reporting their results before step 1 completes, unless the
// Ready installs a leader's snapshot (package engine does so: a leader
// answers one batch while it writes the next). Messages other than
// MsgAppResp, MsgVoteResp, MsgPreVoteResp and MsgSnap may go out before
// step 1 too.
//
// # Ordering contract
//
//  1. Entries are applied in log order, each exactly once per replica.
//  2. Results and Changes of one Ready are in log order; their indexes
//     increase across Readies.
//  3. A State is immutable; State.Index is the last applied entry it
//     reflects, and every State a replica publishes is the state after some
//     log index (never a partial entry).
//  4. A Result with Outcome Committed means the record's writes are in
//     every State with Index >= Result.Index.
package consistency
