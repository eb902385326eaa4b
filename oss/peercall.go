package oss

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/objectsharing/oss/internal/codec"
)

// callRequest is a node-to-node request.
type callRequest struct {
	Op   string `cbor:"1,keyasint"`
	Heap string `cbor:"2,keyasint"`
	ID   uint64 `cbor:"3,keyasint"`
	// Addr is the address the caller advertises, the one membership
	// lists it at (Node.reachedAt), not its socket's. Which process a
	// join of a live name is, is told by who answers at membership's
	// address (liveNameRefusal); the addresses decide only without that.
	Addr string `cbor:"4,keyasint,omitempty"`
	// Cluster is the caller's cluster ID (cluster.go), zero while it has
	// none: two clusters may share a CA and node names, and a member of
	// one must not join or tell anything to the other's.
	Cluster uint64 `cbor:"5,keyasint,omitempty"`
	// Withdraw, with opDecline: the caller's learner is used now, and its
	// request to be removed no longer holds (unused.go).
	Withdraw bool `cbor:"6,keyasint,omitempty"`
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
	// Cluster is the callee's cluster ID: a caller of another cluster
	// (its node started again empty at an address the caller knew) asks
	// on elsewhere.
	Cluster uint64 `cbor:"5,keyasint,omitempty"`
}

const (
	opJoin   = "join"
	opStatus = "status"
	// opLeaving tells a member that the caller leaves gracefully; the
	// answer comes once the member has noted it (membership.leaving).
	opLeaving = "leaving"
	// opDecline asks the leader of a heap to remove the caller's learner,
	// which no application uses on its node (unused.go).
	opDecline = "decline"
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
		return codec.Marshal(n.statusFor(from))
	}
	if r.Heap != "" && validHeapName(r.Heap) != nil {
		// Before anything keeps or logs it: a call carries up to a frame
		// (8 MiB), and a refusal's log line and its entry in joinRefusals
		// held the name whole, one for each name.
		return nil, fmt.Errorf("oss: %s: %w: a heap name of %d bytes, not 1 to 255 of UTF-8 without control characters", r.Op, ErrInvalidHeapName, len(r.Heap))
	}
	if r.Addr != "" && !validCallAddr(r.Addr) {
		// Before anything keeps or logs it: a join's address went into
		// the caller's catalog record (replicated, kept on disk) and,
		// whole, into an INFO line, at each new raft ID.
		err := fmt.Errorf("%w: %s: an address of %d bytes, not a HOST:PORT of at most %d", ErrJoinRefused, r.Op, len(r.Addr), maxCallAddr)
		n.noteRefusal("call refused: its address is no HOST:PORT", "peer", from, "op", r.Op, "addr", truncated(r.Addr, 64), "err", err)
		return codec.Marshal(callResponse{Refused: err.Error(), Cluster: n.ClusterID()})
	}
	if own := n.ClusterID(); !sameCluster(own, r.Cluster) && (r.Op == opLeaving || r.Op == opJoin || r.Op == opDecline) {
		return n.refuseOtherCluster(from, &r, own)
	}
	if r.Op == opLeaving {
		if n.members == nil {
			return nil, errors.New("oss: leaving: this node runs no membership")
		}
		n.members.noteLeaving(from) // the peer's authenticated name: none announces another's leave
		return codec.Marshal(callResponse{OK: true})
	}
	if r.Op == opDecline {
		return n.handleDecline(ctx, from, &r)
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
	if reservedID(r.ID) {
		// Its messages would pass for raft's own storage's (raftShape).
		err := fmt.Errorf("%w: raft ID %016x is reserved by raft for a node's own storage; no node runs under it", ErrJoinRefused, r.ID)
		n.acl.joins.Add(1)
		n.noteRefusal("join refused", "peer", from, "heap", r.Heap, "err", err)
		return codec.Marshal(callResponse{Refused: err.Error(), Cluster: n.ClusterID()})
	}
	h := n.replicaOf(r.Heap)
	resp := callResponse{Cluster: n.ClusterID()}
	switch {
	case h == nil:
	case h.leaderIs(h.self):
		final, err := n.admitJoin(ctx, h, from, &r)
		if err != nil {
			if unlogged, ok := n.joinRefusals.note(r.Heap, from, time.Now()); ok {
				n.log.Warn("join refused", "peer", from, "heap", r.Heap, "id", fmt.Sprintf("%016x", r.ID), "err", err,
					"unlogged", unlogged)
			}
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

// maxCallAddr bounds a call's address (callRequest.Addr), as a DNS name
// is bounded.
const maxCallAddr = 255

// validCallAddr reports whether a call's address is one a node sends: a
// HOST:PORT of at most maxCallAddr bytes (the empty one, a node without
// QUIC's, is checked by its caller).
func validCallAddr(addr string) bool {
	if len(addr) > maxCallAddr {
		return false
	}
	_, _, err := net.SplitHostPort(addr)
	return err == nil
}

// truncated returns s cut to at most max bytes of valid UTF-8, marked
// as cut if it was.
func truncated(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// refuseOtherCluster answers a call of a node of another cluster than
// own, and counts and logs it.
func (n *Node) refuseOtherCluster(from string, r *callRequest, own uint64) ([]byte, error) {
	err := fmt.Errorf("%w: %s: the caller is of cluster %016x, this node of %016x", ErrOtherCluster, r.Op, r.Cluster, own)
	if n.members != nil {
		n.members.stats.otherCluster.Add(1)
	}
	// Noted under the heap only if the node holds it: a name is the
	// caller's to choose, and each new one was a new entry and a line
	// of the log at once.
	key := ""
	if n.replicaOf(r.Heap) != nil {
		key = r.Heap
	}
	if unlogged, ok := n.joinRefusals.note(key, from, time.Now()); ok {
		n.log.Warn("call from a node of another cluster refused", "peer", from, "heap", r.Heap, "err", err, "unlogged", unlogged)
	}
	return codec.Marshal(callResponse{Refused: err.Error(), Cluster: own})
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

// joinRefusalEvery is the least time between two log lines about the
// joins of one node to one heap that this node, leading it, refused. A
// refused replica asks again every 50 ms to 1 s (rejoin), for as long as
// the cause lasts.
const joinRefusalEvery = time.Minute

// refusalLog keeps the log from repeating every refused join: the first
// refusal of a node's join to a heap is logged at once, the next ones at
// most every joinRefusalEvery, with the count of those not logged between.
// Node.malformed keeps the raft messages of a peer that did not decode
// the same way, under the heap "".
type refusalLog struct {
	mu    sync.Mutex // protects following fields
	last  map[refusalKey]refusalSeen
	swept time.Time // when entries last heard of too long ago were dropped
}

type refusalKey struct{ heap, peer string }

type refusalSeen struct {
	logged   time.Time // when the last line was written
	seen     time.Time // when the last refusal was noted
	unlogged int       // refused since that line, not logged
}

// note counts a refusal of peer's join to heap at now and reports whether
// to log it, with the count of those refused since the last line and not
// logged.
func (l *refusalLog) note(heap, peer string, now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = make(map[refusalKey]refusalSeen)
	}
	if now.Sub(l.swept) >= joinRefusalEvery {
		// An entry last heard of that long ago logs its next refusal at
		// once anyway: only its count would be lost, and a peer that asks
		// no more should not stay in the map.
		for k, s := range l.last {
			if now.Sub(s.seen) >= joinRefusalEvery {
				delete(l.last, k)
			}
		}
		l.swept = now
	}
	k := refusalKey{heap, peer}
	s, ok := l.last[k]
	if ok && now.Sub(s.logged) < joinRefusalEvery {
		s.seen = now
		s.unlogged++
		l.last[k] = s
		return 0, false
	}
	l.last[k] = refusalSeen{logged: now, seen: now}
	return s.unlogged, true
}
