package oss

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"go.etcd.io/raft/v3/raftpb"
)

// nameID is a node's raft ID in every heap's group: a hash of its name, so
// that every node derives the same ID without coordination.
func nameID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// groupSpec is the initial configuration of a heap's raft group.
type groupSpec struct {
	voters, learners []string
}

// raftEnvelope carries one raft message of one heap between nodes.
type raftEnvelope struct {
	_    struct{} `cbor:",toarray"`
	Heap string
	Msg  []byte
}

// sendTimeout bounds the wait for room in a peer's send queue; raft
// retransmits what is dropped.
const sendTimeout = 20 * time.Millisecond

// send hands raft messages to the transport.
func (h *Heap) send(msgs []raftpb.Message) {
	tr := h.node.tr
	if tr == nil {
		return
	}
	for i := range msgs {
		m := &msgs[i]
		to, ok := h.peers[m.To]
		if !ok {
			continue
		}
		data, err := m.Marshal()
		if err == nil {
			data, err = codec.Marshal(raftEnvelope{Heap: h.name, Msg: data})
		}
		if err != nil {
			h.log.Error("raft message not encoded", "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(h.node.ctx, sendTimeout)
		err = tr.Send(ctx, to, data)
		cancel()
		if err != nil {
			h.replica.ReportUnreachable(m.To)
			if m.Type == raftpb.MsgSnap {
				h.replica.ReportSnapshot(m.To, true)
			}
			continue
		}
		if m.Type == raftpb.MsgSnap {
			h.replica.ReportSnapshot(m.To, false)
		}
	}
}

// receive routes a raft message from a peer to its heap. The message must
// come from the raft ID of the node the transport authenticated.
func (n *Node) receive(from string, data []byte) {
	var env raftEnvelope
	if err := codec.Unmarshal(data, &env); err != nil {
		n.log.Warn("malformed raft envelope dropped", "peer", from, "err", err)
		return
	}
	var m raftpb.Message
	if err := m.Unmarshal(env.Msg); err != nil {
		n.log.Warn("malformed raft message dropped", "peer", from, "heap", env.Heap, "err", err)
		return
	}
	if m.From != nameID(from) {
		n.log.Warn("raft message with a forged sender dropped", "peer", from, "heap", env.Heap)
		return
	}
	n.mu.Lock()
	h := n.heaps[env.Heap]
	n.mu.Unlock()
	if h == nil {
		return // not a replica of this heap (yet)
	}
	select {
	case h.recvc <- m:
	default: // the loop is behind; raft retransmits
	}
}

// openGroup opens a heap replicated over the given group. Every member
// must open it with the same spec.
func (n *Node) openGroup(ctx context.Context, name string, spec groupSpec) (*Heap, error) {
	if err := validHeapName(name); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	if h, ok := n.heaps[name]; ok {
		return h, nil
	}
	h, err := newHeap(n, name, &spec)
	if err != nil {
		return nil, err
	}
	n.heaps[name] = h
	return h, nil
}

func (s *groupSpec) confState() (raftpb.ConfState, map[uint64]string, error) {
	var cs raftpb.ConfState
	peers := make(map[uint64]string)
	add := func(names []string, to *[]uint64) error {
		for _, nm := range names {
			id := nameID(nm)
			if _, dup := peers[id]; dup {
				return fmt.Errorf("oss: node %q appears twice in the group (or collides)", nm)
			}
			peers[id] = nm
			*to = append(*to, id)
		}
		return nil
	}
	if err := add(s.voters, &cs.Voters); err != nil {
		return cs, nil, err
	}
	if err := add(s.learners, &cs.Learners); err != nil {
		return cs, nil, err
	}
	if len(cs.Voters) == 0 {
		return cs, nil, fmt.Errorf("oss: a group needs a voter")
	}
	return cs, peers, nil
}

// leaderIs reports whether the replica believes id leads the group. It is
// for tests and status: it reads raft state owned by the loop.
func (h *Heap) leaderIs(id uint64) bool {
	return h.leader.Load() == id
}
