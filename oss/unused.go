package oss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/objectsharing/oss/internal/codec"
)

// A node holds replicas that no application on it opened: a heap whose
// first voter it was, a replacement a leader added for a voter down or
// silent, a voter placement moved away. Once placement takes a voter
// back, the replica that stood in stays a learner, and every commit of
// its group goes to it too. A learner no application uses asks its
// leader, every declineTicks while that lasts, to remove it; the leader
// does once the group is at full strength and placement does not want
// the node (engine.Plan, PlanInput.Unused). A replica that applied its
// own removal and that no application uses then stays as it is, and asks
// nobody to take it back (givenUp): placement adds it again when it
// wants it (the leader's messages reach the replica, which applies its
// return), and an open of the heap on the node joins the group as any
// open does. The catalog's replica is every node's, and never asks.

// declineTicks is how long a learner no application uses waits, with its
// leader in reach, between two requests to be removed: ten election
// timeouts, time for an application that starts with the node to open
// the heap first.
const declineTicks = 10 * electionTicks

// unused reports whether no application uses the replica: not the
// catalog's, and no open of the heap on this node.
func (h *Heap) unused() bool { return !h.used.Load() && h.node.catalog.Load() != h }

// givenUp reports whether the replica applied its own removal and no
// application uses it: it does not ask to be taken back.
func (h *Heap) givenUp() bool { return h.contact.dropped.Load() && h.unused() }

// checkUse runs every tick on the loop while a leader is in reach: a
// learner no application uses asks its leader, every declineTicks, to
// remove it.
func (h *Heap) checkUse() {
	n := h.node
	lead := h.leader.Load()
	if !h.unused() || h.isVoter.Load() || !h.inConf.Load() || lead == 0 || lead == h.self || n.tr == nil || n.leaving.Load() {
		h.contact.idle = 0
		return
	}
	if h.contact.idle++; h.contact.idle < declineTicks {
		return
	}
	h.contact.idle = 0
	leader, ok := n.lookup(lead)
	if !ok {
		return
	}
	n.wg.Go(func() {
		if err := n.decline(h, leader); err != nil {
			h.log.Debug("asking to be removed as an unused learner", "leader", leader, "err", err)
		}
	})
}

// decline asks the leader to remove this node's learner of h.
func (n *Node) decline(h *Heap, leader string) error {
	req, err := codec.Marshal(callRequest{Op: opDecline, Heap: h.name, ID: n.id, Cluster: n.ClusterID()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(n.ctx, time.Second)
	defer cancel()
	_, err = n.tr.Call(ctx, leader, req)
	return err
}

// handleDecline serves a learner's request to be removed: a leader of the
// heap notes it for its plan, if the raft ID is the caller's.
func (n *Node) handleDecline(from string, r *callRequest) ([]byte, error) {
	if name, ok := n.lookup(r.ID); !ok || name != from {
		return nil, fmt.Errorf("oss: decline: raft ID %016x is not %s's", r.ID, from)
	}
	h := n.replicaOf(r.Heap)
	if h == nil || !h.leaderIs(h.self) {
		return nil, errors.New("oss: decline: not the heap's leader")
	}
	select {
	case h.declinec <- r.ID:
	default:
	}
	return codec.Marshal(callResponse{OK: true, Cluster: n.ClusterID()})
}

// unusedLearners returns the learners of learners that asked to be
// removed as unused (engine.PlanInput.Unused), and forgets the requests of
// nodes no longer learners; owned by the loop.
func (h *Heap) unusedLearners(learners []uint64) []uint64 {
	var out []uint64
	for id := range h.declines {
		if slices.Contains(learners, id) {
			out = append(out, id)
		} else {
			delete(h.declines, id)
		}
	}
	slices.Sort(out)
	return out
}
