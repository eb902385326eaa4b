package oss

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// groupSpec is the first configuration of a heap's raft group.
type groupSpec struct {
	voters, learners []groupMember
}

// raftEnvelope carries one raft message of one heap between nodes. On the
// wire it is binary, the hottest message there is:
//
//	version byte (1) | uvarint len(heap) | heap | group uint64 (big endian) | raftpb message
type raftEnvelope struct {
	Heap  string
	Msg   []byte
	Group uint64 // the group's incarnation
}

const envelopeVersion = 1

func (e *raftEnvelope) appendTo(dst []byte) []byte {
	dst = append(dst, envelopeVersion)
	dst = binary.AppendUvarint(dst, uint64(len(e.Heap)))
	dst = append(dst, e.Heap...)
	dst = binary.BigEndian.AppendUint64(dst, e.Group)
	return append(dst, e.Msg...)
}

func (e *raftEnvelope) decode(b []byte) error {
	if len(b) == 0 || b[0] != envelopeVersion {
		return errors.New("unknown envelope version")
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 255 || uint64(len(b)-k) < n+8 {
		return errors.New("short or oversized envelope")
	}
	b = b[k:]
	e.Heap = string(b[:n])
	e.Group = binary.BigEndian.Uint64(b[n : n+8])
	e.Msg = b[n+8:]
	return nil
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
	var ctx context.Context
	for i := range msgs {
		m := &msgs[i]
		to, ok := h.node.lookup(m.To)
		if !ok {
			h.replica.ReportUnreachable(m.To)
			continue
		}
		env := raftEnvelope{Heap: h.name, Group: h.group}
		data := env.appendTo(make([]byte, 0, 16+len(h.name)+m.Size()))
		n, err := m.MarshalTo(data[len(data):cap(data)])
		if err != nil {
			h.log.Error("raft message not encoded", "err", err)
			continue
		}
		data = data[:len(data)+n]
		if ctx == nil {
			// One bound for the whole batch: a timer per message costs
			// more than the send.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(h.node.ctx, sendTimeout)
			defer cancel()
		}
		if err = tr.Send(ctx, to, data); err != nil {
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
// come from a raft ID of the node the transport authenticated, and be for
// this node's ID (not for an earlier start of a node of the same name). A
// message from a leader for a heap in the catalog that this node has no
// replica of opens one: the leader added this node to the group.
func (n *Node) receive(from string, data []byte) {
	var env raftEnvelope
	if err := env.decode(data); err != nil {
		n.log.Warn("malformed raft envelope dropped", "peer", from, "err", err)
		return
	}
	var m raftpb.Message
	if err := m.Unmarshal(env.Msg); err != nil {
		n.log.Warn("malformed raft message dropped", "peer", from, "heap", env.Heap, "err", err)
		return
	}
	if name, ok := n.lookup(m.From); !ok || name != from {
		n.log.Debug("raft message from an unknown or forged sender dropped", "peer", from, "heap", env.Heap)
		return
	}
	if m.To != n.id {
		return // for an earlier start of this node
	}
	h := n.replicaOf(env.Heap)
	if h == nil && n.catalog.Load() != nil && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap || m.Type == raftpb.MsgHeartbeat) {
		if e, ok := n.catalogEntry(env.Heap); ok && e.Group == env.Group {
			var err error
			if h, err = n.openReplica(e); err != nil {
				n.log.Debug("replica not opened", "heap", env.Heap, "err", err)
			}
		}
	}
	if h == nil || h.group != env.Group {
		return // not a replica of this heap (yet), or of an earlier incarnation
	}
	select {
	case h.recvc <- m:
	default: // the loop is behind; raft retransmits
	}
}

// openGroup opens a heap replicated over the given group, outside the
// catalog. Every first voter must open it with the same spec.
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
	for _, m := range append(append([]groupMember{}, spec.voters...), spec.learners...) {
		n.learn(m.ID, m.Name)
	}
	h, err := newHeap(n, name, openMode{spec: &spec, replicas: len(spec.voters)})
	if err != nil {
		return nil, err
	}
	n.heaps[name] = h
	return h, nil
}

func (s *groupSpec) confState() (raftpb.ConfState, error) {
	var cs raftpb.ConfState
	seen := make(map[uint64]bool)
	add := func(ms []groupMember, to *[]uint64) error {
		for _, m := range ms {
			if m.ID == 0 || seen[m.ID] {
				return fmt.Errorf("oss: node %q appears twice in the group, or has no ID", m.Name)
			}
			seen[m.ID] = true
			*to = append(*to, m.ID)
		}
		return nil
	}
	if err := add(s.voters, &cs.Voters); err != nil {
		return cs, err
	}
	if err := add(s.learners, &cs.Learners); err != nil {
		return cs, err
	}
	if len(cs.Voters) == 0 {
		return cs, fmt.Errorf("oss: a group needs a voter")
	}
	return cs, nil
}

// leaderIs reports whether the replica believes id leads the group. It is
// for tests and status: it reads raft state owned by the loop.
func (h *Heap) leaderIs(id uint64) bool {
	return h.leader.Load() == id
}
