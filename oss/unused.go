package oss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"go.etcd.io/raft/v3/raftpb"
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
// open does; a replica recovered at a restart whose configuration no
// longer holds it is given up alike (appliedOwnRemoval). A replica given
// up for retireTicks without a leader's message is retired: closed, its
// records and its space let go (retire.go). A leader holds a
// request for declineValid, and an open by an application withdraws it
// (withdrawDecline). The catalog's replica is every node's, and never
// asks.

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

// declineValid is how long a leader holds a learner's request to be
// removed: the learner repeats it every declineTicks while it stands, so
// one not heard again within two of those periods is stale (the learner
// is used now, and its withdrawal was lost, or it went to another leader).
const declineValid = 2 * declineTicks

// decliningState is a replica's own request to be removed.
type decliningState struct {
	// mu orders a request and its withdrawal: held for the request's call,
	// so that an open's withdrawal goes after a request already on its way.
	mu sync.Mutex
	to string // the leader last asked to remove this replica, "" once withdrawn
}

// declineNote is a request, or its withdrawal, for the heap's loop.
type declineNote struct {
	id       uint64
	withdraw bool
	done     chan struct{} // closed once the loop has noted it, if not nil
}

// appliedOwnRemoval reports whether a recovered replica's applied
// configuration cs no longer holds it, self: it applied its removal before
// the node stopped (not one done while it was cut off, which it missed),
// and without an application's open it is given up as before the stop.
func appliedOwnRemoval(cs raftpb.ConfState, self uint64) bool {
	if len(cs.Voters) == 0 {
		return false // no configuration yet: a replica a leader added, empty
	}
	for _, ids := range [][]uint64{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		if slices.Contains(ids, self) {
			return false
		}
	}
	return true
}

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
	n.wg.Go(func() { n.declineUnused(h, leader) })
}

// declineUnused asks leader to remove this node's learner of h, unless an
// application opened the heap meanwhile.
func (n *Node) declineUnused(h *Heap, leader string) {
	h.declining.mu.Lock()
	defer h.declining.mu.Unlock()
	if !h.unused() {
		return // opened meanwhile: its withdrawal waits for no request
	}
	h.declining.to = leader
	if err := n.decline(n.ctx, h, leader, false); err != nil {
		h.log.Debug("asking to be removed as an unused learner", "leader", leader, "err", err)
	}
}

// withdrawDecline runs on an open of the heap by an application, once h is
// marked used: if the replica asked a leader to remove it, it tells that
// leader the request no longer holds, before the open returns. At best
// effort: a withdrawal lost leaves a request that goes stale within
// declineValid, and a replica removed meanwhile is used, so it asks to be
// taken back (rejoin) as any replica removed does, and the open joins.
func (n *Node) withdrawDecline(ctx context.Context, h *Heap) {
	h.declining.mu.Lock()
	defer h.declining.mu.Unlock()
	to := h.declining.to
	if to == "" || n.tr == nil {
		return
	}
	h.declining.to = ""
	if err := n.decline(ctx, h, to, true); err != nil {
		h.log.Debug("withdrawing the request to be removed as an unused learner", "leader", to, "err", err)
	}
}

// decline asks the leader to remove this node's learner of h, or withdraws
// that request.
func (n *Node) decline(ctx context.Context, h *Heap, leader string, withdraw bool) error {
	req, err := codec.Marshal(callRequest{Op: opDecline, Heap: h.name, ID: n.id, Cluster: n.ClusterID(), Withdraw: withdraw})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = n.tr.Call(ctx, leader, req)
	return err
}

// handleDecline serves a learner's request to be removed, or its
// withdrawal: a leader of the heap notes it for its plan, if the raft ID
// is the caller's and the caller is of this node's cluster exactly (a
// caller of no cluster yet is refused by a node of one: a removal is no
// join, which sameCluster lets through). A withdrawal is
// answered once the loop noted it.
func (n *Node) handleDecline(ctx context.Context, from string, r *callRequest) ([]byte, error) {
	if own := n.ClusterID(); r.Cluster != own {
		return nil, fmt.Errorf("%w: decline: the caller is of cluster %016x, this node of %016x", ErrOtherCluster, r.Cluster, own)
	}
	if name, ok := n.lookup(r.ID); !ok || name != from {
		return nil, fmt.Errorf("oss: decline: raft ID %016x is not %s's", r.ID, from)
	}
	h := n.replicaOf(r.Heap)
	if h == nil {
		return nil, errors.New("oss: decline: no replica of the heap")
	}
	if !r.Withdraw {
		if !h.leaderIs(h.self) {
			return nil, errors.New("oss: decline: not the heap's leader")
		}
		select {
		case h.declinec <- declineNote{id: r.ID}:
		default:
		}
		return codec.Marshal(callResponse{OK: true, Cluster: n.ClusterID()})
	}
	d := declineNote{id: r.ID, withdraw: true, done: make(chan struct{})}
	select {
	case h.declinec <- d:
	case <-h.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-d.done:
	case <-h.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return codec.Marshal(callResponse{OK: true, Cluster: n.ClusterID()})
}

// noteDecline notes a learner's request to be removed, with the tick it
// was heard, or forgets it on its withdrawal; owned by the loop.
func (h *Heap) noteDecline(d declineNote) {
	if d.withdraw {
		delete(h.declines, d.id)
	} else {
		h.declines[d.id] = h.eng.Ticks()
	}
	if d.done != nil {
		close(d.done)
	}
}

// unusedLearners returns the learners of learners that asked to be
// removed as unused within declineValid (engine.PlanInput.Unused), and
// forgets the requests of nodes no longer learners and the stale ones;
// owned by the loop.
func (h *Heap) unusedLearners(learners []uint64) []uint64 {
	var out []uint64
	now := h.eng.Ticks()
	for id, at := range h.declines {
		if slices.Contains(learners, id) && now-at <= declineValid {
			out = append(out, id)
		} else {
			delete(h.declines, id)
		}
	}
	slices.Sort(out)
	return out
}
