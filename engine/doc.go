// Package engine is the runtime of one heap replica as a deterministic
// state machine: the bookkeeping of proposals and reads around a
// consistency.Replica, driven like raft's RawNode. It decides when a
// proposal is proposed again, when it fails and how (definitely, or with
// an unknown outcome), when a read index is asked again, what happens
// while the write-ahead log refuses writes, and when a checkpoint is due
// and how far the log in memory is compacted. It carries nothing out.
//
// The package has no goroutines, clocks, channels, sockets or files, and
// no randomness. Time enters as Tick, messages as Step, local requests as
// Propose, Abandon and Read (their IDs chosen by the caller), outcomes of
// the owner's work as DiskFailed and Checkpointed; everything it wants
// done leaves as a Ready. Package oss drives one per heap from its loop
// goroutine; a simulation can drive many from one goroutine.
//
// # Usage
//
// One goroutine owns an Engine and loops:
//
//	for {
//		select {
//		case <-ticker:     e.Tick()
//		case m := <-recv:  e.Step(m)
//		case b := <-props: e.Propose(b)
//		case id := <-gone: answer(e.Abandon(id))
//		case id := <-rq:   e.Read(id)
//		}
//		for e.HasReady() {
//			rd := e.Ready()
//			if rd.Err != nil {
//				// The replica cannot go on: e.Close(), then carry
//				// out the Readies that follow (failures only).
//			}
//			first := rd.OutcomesFirst()
//			if rd.HasRaft {
//				// 1. Send rd.Early: they may go out while step 3
//				//    runs (a leader's appends, heartbeats).
//			}
//			if first {
//				outcomes(rd) // 2: what rd applied is committed
//			}
//			if rd.HasRaft {
//				// 3. Make rd.HardState, rd.Entries and rd.Snapshot
//				//    durable. If the log refuses: e.DiskFailed(err),
//				//    carry out nothing else of rd, no Advance.
//				// 4. Send rd.Messages (acknowledgements, votes,
//				//    snapshots): they vouch for step 3.
//			}
//			if !first {
//				outcomes(rd) // 2, once a leader's snapshot is durable
//			}
//			// 5. Note rd.Conf if not nil.
//			// 6. If rd.Checkpoint is not zero, checkpoint the
//			//    replica's state (it stands at that index) and, once
//			//    it is durable, call e.Checkpointed(rd.Checkpoint).
//			e.Advance()
//		}
//	}
//
//	// outcomes is step 2.
//	func outcomes(rd Ready) {
//		// a. Publish rd.State to readers (if rd.HasRaft).
//		// b. Hand out rd.Completions, after the state they report
//		//    is published, so a caller told "committed" can read
//		//    its write; then deliver rd.Changes.
//		// c. Answer rd.Reads: the state published covers them.
//	}
//
// Between Ready and Advance the owner calls nothing else of the engine
// (Checkpointed and DiskFailed excepted); of the replica (Replica) it may
// read the state and report unreachable peers and failed snapshots, as
// raft allows between its Ready and Advance. Ready changes nothing: called twice it returns
// the same. Advance appends what step 3 made durable to the log in memory
// (Config.Storage), before raft hears that it was handled, and compacts
// that log: the engine keeps it, the owner only reads it (raft does, for
// snapshots).
//
// # What the effects mean
//
// A Completion ends one proposal's wait: its consistency.Result, or a
// Failure. A Failure with Unknown set means the record may be in the log
// (it was handed to raft): the transaction may have committed, and the
// caller must not be told it failed. Every other Failure is definite:
// nothing of the record was written.
//
// Abandon answers whether a proposal was ever handed to raft. A proposal
// the owner never gave to Propose was never proposed, whatever the engine
// says; the owner must make sure that one it decides to drop (a caller
// gone while the proposal waited to reach the engine) is never given to
// Propose afterwards.
//
// Outcomes come before the log write because they need none of it: the
// entries a Ready applies are committed, so a quorum holds them durably,
// and the write is of later entries. A leader thus answers one batch of
// commits while it writes the next. A Ready that installs a leader's
// snapshot keeps the old order: the snapshot's state is published once
// the replica has stored it.
//
// While the log refuses writes (DiskFailed), nothing more of the held
// Ready is sent or applied (its outcomes, handed out already, stand); every Tick offers its write again (rd.Retry set) until
// the log takes it. Proposals fail at once meanwhile; reads of the local
// state go on.
//
// Early messages let a leader's log write and its followers' run at the
// same time. Raft counts the leader's own copy of an entry toward a
// commit only at Advance, after step 3, and a follower's when its
// acknowledgement arrives, which it sends after its own write: an entry
// commits once a quorum holds it durably, whichever write ends first. A
// leader that crashes before its write loses entries that only
// followers hold; they commit or not by those copies alone, as raft
// allows for any entry not yet committed.
//
// # Asynchronous log writes
//
// Over a replica made with consistency.Config.AsyncStorageWrites (package
// oss makes every replica so), the engine no longer waits for a Ready's
// write before the next Ready: a leader appends and sends the next batch,
// and steps its followers' acknowledgements, while its own log syncs; a
// follower takes the next append while it writes the last. The loop
// becomes:
//
//	rd := e.Ready()
//	send(rd.Early, rd.Messages) // appends at once; answers made sendable
//	if rd.OutcomesFirst() {
//		outcomes(rd) // what it applied is durable here already
//	}
//	if rd.WriteFirst {
//		// A leader's snapshot: make every write in flight and
//		// rd.Writes durable now; refused: e.DiskFailed(err), no
//		// Advance (the engine holds the Ready).
//	} else {
//		// Hand rd.Writes to the log in order, without waiting.
//	}
//	if !rd.OutcomesFirst() { outcomes(rd) }
//	... conf, checkpoint as above; e.Advance()
//
//	// Whenever the log answers, in the order the writes were handed out:
//	e.Written(seq) // or e.DiskFailed(err)
//
// Raft hears of a write, through the responses it attached to it (its
// own acknowledgement, and a leader's vote for its own entries), only at
// Written, and only once every write before it is durable too; the
// answers for peers that vouch for it go out in the next Ready's
// Messages. Raft applies only entries durable on this replica, so
// outcomes never wait for a write, and a leader counts its own copy only
// once written. A refused write fails what waits, as above, and it and
// every write after it are offered again, in order, after the next Tick
// (Ready.Retry with Writes); the owner makes sure no write after a
// refused one is reported (package persist's Chain).
//
// With Config.ApplyApart (package oss sets it) a Ready comes before the
// replica applies its committed entries (Ready.ApplyLater): the owner
// sends, hands out the writes, then calls e.Apply(&rd), which fills in
// the state, results, change sets and the completions and reads they
// bring, and then hands out the outcomes. So a leader's appends and
// commit index, a follower's acknowledgements and its next write wait
// for no apply. A Ready that installs a leader's snapshot is applied as
// it is taken.
//
// A checkpoint is asked for once CompactEvery entries applied since the
// last one, in a Ready of its own (nothing from the replica), and asked
// again after later Readies and at every Tick while it is due and
// Checkpointed has not reported it: an owner that was busy with the
// previous one when first asked, its replica idle since, takes it at the
// next tick. The log in memory is never compacted past the last
// checkpoint a durable engine heard of, nor, on a leader, past what a
// follower heard from within an election timeout has yet to acknowledge,
// unless that follower is more than MaxLogBytes behind (then it is sent a
// snapshot).
package engine
