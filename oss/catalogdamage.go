package oss

import (
	"errors"
	"fmt"
)

// lostErr is why the replica was lost (lostState, loseReplica), or nil if
// it runs or was closed without loss. The loop writes h.lost before it
// ends, and nothing after.
func (h *Heap) lostErr() error {
	select {
	case <-h.done:
		return h.lost
	default:
		return nil
	}
}

// Damage reports whether the node is damaged: nil, or an error matching
// ErrCorrupt that says what was lost and what to do. A node is damaged
// when its replica of the catalog was lost while it ran (a log that lost
// what it had acknowledged, a leader's snapshot it could not apply). Such
// a node no longer learns of heaps created or dropped, of replicas placed
// or moved, nor of grants revoked: Heap, CreateHeap,
// CreateHeapIfNotExists, DropHeap, Grant, RevokeGrant and Authorize of a
// client fail at once with this error, Status reports it, and the metric oss_replica_lost of the heap
// oss:catalog is 1. Heaps, Grants and Revocations return what the lost
// replica held, which may be stale (the admin interface refuses them with
// this error). Handles opened before go on. The node does not rebuild
// the replica by itself (docs/design.md, "A node whose catalog replica is
// lost"): it is restarted empty, with Join.
func (n *Node) Damage() error {
	h := n.catalog.Load()
	if h == nil {
		return nil
	}
	lost := h.lostErr()
	if lost == nil {
		return nil
	}
	how := "restart it empty to rebuild its replicas from its peers: ossd run --rebuild-replica --join <a member> (embedded: move its data directory aside and Start it with Join)"
	if errors.Is(lost, ErrCorrupt) {
		return fmt.Errorf("oss: node %q cannot use the catalog: its replica of %q was lost while the node ran (%w); %s", n.cfg.Name, catalogName, lost, how)
	}
	return fmt.Errorf("%w: node %q cannot use the catalog: its replica of %q was lost while the node ran (%w); %s", ErrCorrupt, n.cfg.Name, catalogName, lost, how)
}

// closedErr is what a call on the closed heap returns: ErrClosed, and for
// a replica lost while its node ran, the loss with it, which says what
// to do: a handle on a node that runs on would otherwise say only
// "closed", of a heap nobody closed. Nothing was written either way.
func (h *Heap) closedErr() error {
	return h.lostOrClosed(h.lostErr())
}

// loopClosedErr is closedErr for the loop, which writes h.lost itself
// before it answers what waits.
func (h *Heap) loopClosedErr() error {
	return h.lostOrClosed(h.lost)
}

// lostOrClosed is ErrClosed, with the loss if the replica was lost, or
// saying that the heap was dropped: a handle on a node that runs on
// would otherwise say only "closed", of a heap the application never
// closed, perhaps created again since.
func (h *Heap) lostOrClosed(lost error) error {
	switch {
	case lost != nil:
		return &lostReplicaError{heap: h.name, lost: lost}
	case h.dropped.Load():
		return fmt.Errorf("%w: heap %q was dropped; Node.Heap opens a heap created under its name since", ErrClosed, h.name)
	}
	return ErrClosed
}

// lostReplicaError is ErrClosed for a heap whose replica on the node was
// lost. It matches ErrClosed and the loss (ErrCorrupt when the node's
// data lost what it acknowledged).
type lostReplicaError struct {
	heap string
	lost error
}

func (e *lostReplicaError) Error() string {
	if errors.Is(e.lost, ErrCorrupt) { // it says what to do
		return fmt.Sprintf("oss: closed: this node's replica of heap %q was lost: %v", e.heap, e.lost)
	}
	return fmt.Sprintf("oss: closed: this node's replica of heap %q was lost (%v); restart the node to rebuild it from its peers", e.heap, e.lost)
}

func (e *lostReplicaError) Unwrap() []error { return []error{ErrClosed, e.lost} }
