package oss

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/raft/v3/raftpb"
)

// A heap's replication factor is its catalog entry's Replicas. It is set
// at creation (HeapOptions.Replicas) and changed by SetHeapReplicas, a
// transaction on the entry; every node's catalog replica hands the new
// factor to its replica of the heap (syncCatalog, engine.Sync), and the
// group's leader places voters for it as it places them for a failure
// (engine.Plan: grow to it, or reduce to it).

// SetHeapReplicas changes the number of voters a heap keeps, its
// replication factor (HeapOptions.Replicas at creation), to replicas:
// from 1 to 9, an even number being one voter fewer, as at creation. It
// returns once the catalog holds the new factor; the heap's leader then
// adds voters (each first a learner that catches up) or takes the surplus
// out (kept as learners while their nodes use the heap), one change at a
// time that keeps a quorum, without stopping the heap's commits. A heap
// keeps at most one voter a live server: one asked for more voters than
// there are servers keeps as many as there are, and gains the rest as
// servers join, as at creation. Node.Heaps and Node.Status give the
// factor (HeapStatus.Replicas) and the voters placed so far.
//
// A number out of range returns an error matching ErrInvalidArgument, a
// name no heap has one matching ErrNoHeap (nothing was written either
// way), and the system heaps' names one matching ErrInvalidHeapName: their
// factor is fixed. A factor that is the heap's already writes nothing. A
// change whose outcome was not learned (ctx ended, the node closed, or
// the catalog had no leader in reach for a while, once it was proposed)
// returns an error matching ErrCommitUnknown: the factor may have changed,
// and Node.Heaps says which. One the catalog refused for want of a leader
// before it was proposed matches ErrNoQuorum: nothing was written.
// Changing it needs PermAdmin on the heap.
func (n *Node) SetHeapReplicas(ctx context.Context, name string, replicas int) error {
	if strings.HasPrefix(name, systemPrefix) {
		return fmt.Errorf("%w %q: the prefix %q is reserved; the system heaps' replication factor is fixed", ErrInvalidHeapName, name, systemPrefix)
	}
	if err := validHeapName(name); err != nil {
		return err
	}
	if replicas < 1 || replicas > 9 {
		return fmt.Errorf("%w: heap %q: replicas %d is not between 1 and 9", ErrInvalidArgument, name, replicas)
	}
	if err := n.Damage(); err != nil {
		return err
	}
	if err := n.authorizeSelf(ctx, name, PermAdmin); err != nil {
		return err
	}
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		ok, err := tx.Exists(entryID(name))
		if err != nil {
			return err
		}
		if !ok {
			return errNothingThere // checked with a read index, not a record
		}
		e, err := Get[heapEntry](tx, entryID(name))
		if err != nil {
			return err
		}
		if e.Replicas == replicas {
			return errFactorKept // nothing to write: checked as errNothingThere is
		}
		e.Replicas = replicas
		return Put(tx, entryID(name), e)
	})
	switch {
	case err == errNothingThere:
		return fmt.Errorf("oss: set replicas of heap %q: %w: nothing was changed (Node.Heaps, or ossd heaps, lists the heaps)", name, ErrNoHeap)
	case err == errFactorKept:
		return nil
	case err != nil:
		return fmt.Errorf("oss: set replicas of heap %q: %w", name, uncheckedRead(unanswered(ctx, err)))
	}
	n.syncCatalog() // this node's replica plans with it at once
	return nil
}

// errFactorKept is what SetHeapReplicas' catalog transaction returns when
// the heap has the factor asked for already: a read alone, which Update
// checks with a read index (no log entry), as errNothingThere.
var errFactorKept = errors.New("oss: the heap has that replication factor already")

// uncheckedRead says err of SetHeapReplicas' transaction as its own: one
// that read the entry and wrote nothing (errNothingThere, errFactorKept)
// and could not check that against the catalog's commit index matches
// what stopped the check, not the transaction's internal error.
func uncheckedRead(err error) error {
	var ue *uncheckedError
	if errors.As(err, &ue) && (ue.ferr == errNothingThere || ue.ferr == errFactorKept) {
		return fmt.Errorf("%w (whether the heap is in the catalog, and its factor, could not be checked against its commit index)", ue.err)
	}
	return err
}

// factor is the heap's replication factor as the replica knows it.
func (h *Heap) factor() int { return int(h.replicas.Load()) }

// knownFactor is the factor for engine.Sync (Replica.Replicas): 0 for a
// replica recovered from disk that its node's catalog has not given one.
func (h *Heap) knownFactor() int {
	if !h.factorKnown.Load() {
		return 0
	}
	return h.factor()
}

// setFactor gives the replica its heap's factor from the catalog entry.
func (h *Heap) setFactor(replicas int) {
	old := h.replicas.Swap(int32(max(replicas, 1)))
	if known := h.factorKnown.Swap(true); known && int(old) != replicas {
		h.log.Info("replication factor changed", "from", old, "to", replicas)
	}
}

// planFactor is the replication factor the replica's placement plans
// with (engine.PlanInput.Replicas): the catalog's. A replica recovered
// from disk whose node has not synced its catalog since the restart
// plans with the voters it has: its own records may hold a factor
// changed since, and placement would grow or reduce the group to it,
// and back once the catalog gave the new one.
func (h *Heap) planFactor(cs raftpb.ConfState) int {
	if !h.factorKnown.Load() {
		return max(len(cs.Voters), 1)
	}
	return h.factor()
}
