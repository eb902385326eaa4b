package oss

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/objectsharing/oss/internal/codec"
)

// callRequest is a node-to-node request.
type callRequest struct {
	Op   string `cbor:"1,keyasint"`
	Heap string `cbor:"2,keyasint"`
	ID   uint64 `cbor:"3,keyasint"`
	// Addr is the address the caller advertises: a join of a name live
	// at another address is a second node of that name.
	Addr string `cbor:"4,keyasint,omitempty"`
}

// callResponse answers a callRequest.
type callResponse struct {
	OK     bool   `cbor:"1,keyasint"`
	Leader string `cbor:"2,keyasint,omitempty"` // the leader, when the callee is not it
	// Member: the leader has the caller in the group's configuration
	// already. A caller that believed it was a member and is told
	// otherwise was removed while it was cut off.
	Member bool `cbor:"3,keyasint,omitempty"`
	// Refused says why the leader will never take this join.
	Refused string `cbor:"4,keyasint,omitempty"`
}

const (
	opJoin   = "join"
	opStatus = "status"
	// opLeaving tells a member that the caller leaves gracefully; the
	// answer comes once the member has noted it (membership.leaving).
	opLeaving = "leaving"
)

// handleCall serves a peer's request: "join" asks the leader of a heap to
// add the caller as a learner (a member already is left as it is), under
// a raft ID that must be the caller's (admitJoin).
func (n *Node) handleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	var r callRequest
	if err := codec.Unmarshal(req, &r); err != nil {
		return nil, fmt.Errorf("oss: malformed request: %w", err)
	}
	if r.Op == opStatus {
		return codec.Marshal(n.localStatus())
	}
	if r.Op == opLeaving {
		if n.members == nil {
			return nil, errors.New("oss: leaving: this node runs no membership")
		}
		n.members.noteLeaving(from) // the peer's authenticated name: none announces another's leave
		return codec.Marshal(callResponse{OK: true})
	}
	if r.Op != opJoin {
		return nil, fmt.Errorf("oss: unknown request %q", r.Op)
	}
	if r.ID == 0 {
		return nil, errors.New("oss: join: zero node ID")
	}
	if err := n.authorizeJoin(from, r.Heap); err != nil {
		return nil, err
	}
	h := n.replicaOf(r.Heap)
	var resp callResponse
	switch {
	case h == nil:
	case h.leaderIs(h.self):
		final, err := n.admitJoin(ctx, h, from, &r)
		if err != nil {
			n.log.Warn("join refused", "peer", from, "heap", r.Heap, "id", fmt.Sprintf("%016x", r.ID), "err", err)
			if !final {
				return nil, err
			}
			resp.Refused = err.Error()
			return codec.Marshal(resp)
		}
		resp.OK = h.requestJoin(r.ID)
		if cs := h.conf.Load(); cs != nil {
			resp.Member = slices.Contains(cs.Voters, r.ID) || slices.Contains(cs.Learners, r.ID) ||
				slices.Contains(cs.VotersOutgoing, r.ID) || slices.Contains(cs.LearnersNext, r.ID)
		}
	default:
		resp.Leader, _ = n.lookup(h.leader.Load())
	}
	return codec.Marshal(resp)
}

// replicaOf returns the node's open replica of a heap, the catalog
// included, or nil.
func (n *Node) replicaOf(name string) *Heap {
	n.mu.Lock()
	defer n.mu.Unlock()
	if name == catalogName {
		return n.catalog.Load()
	}
	return n.heaps[name]
}

// replicaOfName is replicaOf for a name held in bytes, which it makes no
// string of.
func (n *Node) replicaOfName(name []byte) *Heap {
	n.mu.Lock()
	defer n.mu.Unlock()
	if string(name) == catalogName {
		return n.catalog.Load()
	}
	return n.heaps[string(name)]
}
