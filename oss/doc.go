// Package oss is the public API of OSS, an object sharing service: nodes
// share heaps of objects, change them in serializable transactions, and read
// them locally from consistent snapshots.
//
// # Overview
//
// A Node holds local replicas of the heaps it opened (Node.Heap) or created
// (Node.CreateHeap, Node.CreateHeapIfNotExists). Each heap is a set of
// objects: an ID (a UUID), a value (encoded as CBOR, typed through
// generics) and a version (the index of the log entry that last wrote it),
// plus named roots that bind names to object IDs so an application can find
// its entry points.
//
// Every change is a transaction. Heap.Update runs a function on the latest
// local snapshot, records what it read and buffers what it wrote, and sends
// both as one commit record to the heap's raft log. Every replica decides
// each record in log order: it commits if nothing it read has changed since.
// Otherwise Update runs the function again on a newer snapshot. Heap.View
// reads a snapshot without touching the log; taking one costs O(1) and never
// blocks commits.
//
// # Usage
//
//	n, err := oss.Start(ctx, nil) // a single in-memory node
//	defer n.Close(ctx)
//	h, err := n.CreateHeapIfNotExists(ctx, "bank", nil) // Heap opens one that exists
//	err = h.Update(ctx, func(tx *oss.Tx) error {
//		a, err := oss.Get[Account](tx, id)
//		if err != nil {
//			return err
//		}
//		a.Balance += 10
//		return oss.Put(tx, id, a)
//	})
//	err = h.View(ctx, func(tx *oss.Tx) error { ... }, nil) // or &oss.ViewOptions{Fresh: true}
//
// # Guarantees
//
// Committed Updates are strictly serializable. A View sees the state after
// some log index: consistent, possibly stale by what the local replica has
// not yet heard from the heap's leader (Heap.Stats says how far; Heap.View
// gives the bound); with ViewOptions.Fresh it is linearizable. After Update
// returns nil, a View on the same node sees its writes. Transactions that enumerate the heap (Tx.Scan) are validated
// against creations and deletions, so there are no phantoms.
//
// # Errors
//
// Errors are the Err sentinel values, to be compared with errors.Is, and
// typed errors (ConflictError, DecodeError, EncodeError, PermissionError,
// TooLargeError, UnknownOutcomeError) where a caller needs details; an
// OnCommit function's panic reaches the caller as an *OnCommitPanic. An
// error matching ErrCommitUnknown means the outcome of a commit is not
// known; it is never reported as a success or a failure.
package oss
