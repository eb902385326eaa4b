package oss

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/transport"
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

// control says whether a raft message goes on the transport's control
// stream (transport.ControlSender): every message but those that carry
// entries of a commit's size, appends (MsgApp) and proposals a follower
// forwards (MsgProp), and snapshots (MsgSnap), which are streamed apart.
// Heartbeats, votes and their responses are small and due at once; on the
// stream of the appends they would wait behind up to a frame (8 MiB) each,
// and under load past the election timeout. The order between the two
// streams is not kept, which raft tolerates (see transport's package
// documentation, "Ordering").
func control(t raftpb.MessageType) bool {
	switch t {
	case raftpb.MsgApp, raftpb.MsgProp, raftpb.MsgSnap:
		return false
	}
	return true
}

// send hands raft messages to the transport: appends and proposals on its
// message stream, the rest on its control stream if it has one.
func (h *Heap) send(msgs []raftpb.Message) {
	tr := h.node.tr
	if tr == nil {
		return
	}
	ctl, _ := tr.(transport.ControlSender)
	var ctx context.Context
	for i := range msgs {
		m := &msgs[i]
		to, ok := h.node.lookup(m.To)
		if !ok {
			h.replica.ReportUnreachable(m.To)
			if m.Type == raftpb.MsgSnap {
				h.replica.ReportSnapshot(m.To, true)
			}
			continue
		}
		if m.Type == raftpb.MsgSnap {
			h.sendSnapshot(to, *m)
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
		if ctl != nil && control(m.Type) {
			err = ctl.SendControl(ctx, to, data)
		} else {
			err = tr.Send(ctx, to, data)
		}
		if err != nil {
			if errors.Is(err, transport.ErrTooLarge) {
				h.logOversize(to, m, len(data), err)
			}
			h.replica.ReportUnreachable(m.To)
		}
	}
}

// receive routes a raft message from a peer to its heap. The message must
// come from a raft ID of the node the transport authenticated, and be for
// this node's ID (not for an earlier start of a node of the same name). A
// message from a leader for a heap in the catalog that this node has no
// replica of opens one: the leader added this node to the group.
func (n *Node) receive(from string, data []byte) {
	h, m, ok := n.route(from, data)
	if !ok {
		return
	}
	h.enqueue(from, m)
}

// inbox counts what a heap's queue of raft messages from peers (recvc)
// holds, in bytes, and what it drops.
type inbox struct {
	bytes   atomic.Int64
	dropped atomic.Uint64
	warned  atomic.Int64 // when a drop was last logged, in Unix nanoseconds
}

// The memory a decoded raft message takes besides its encoded size, at
// most: the message's fixed fields, and each entry's.
const (
	recvMessageMem = 256
	recvEntryMem   = 64
)

// recvCost is what a raft message counts against its heap's queue.
func recvCost(m *raftpb.Message) int64 {
	return int64(m.Size()) + recvMessageMem + int64(len(m.Entries))*recvEntryMem
}

// taken uncounts a message the loop took from the queue.
func (q *inbox) taken(m *raftpb.Message) { q.bytes.Add(-recvCost(m)) }

// stepReceived steps a message taken from the queue.
func (h *Heap) stepReceived(m raftpb.Message) {
	h.recvq.taken(&m)
	h.step(m)
}

// recvDropLogEvery is the least time between two log lines about raft
// messages a heap's full queue dropped.
const recvDropLogEvery = 10 * time.Second

// enqueue hands a raft message from a peer to the heap's loop, never
// waiting: while the loop is behind, its queue holds at most 4096
// messages and the node's recvQueue limit of bytes (one message at least),
// and a message beyond either is dropped, counted and logged (at most
// every 10 s); raft sends again.
func (h *Heap) enqueue(from string, m raftpb.Message) {
	cost := recvCost(&m)
	limit := h.node.limits.recvQueue
	for {
		cur := h.recvq.bytes.Load()
		if cur > 0 && cur+cost > limit {
			h.dropReceived(from, &m, cost, cur)
			return
		}
		if h.recvq.bytes.CompareAndSwap(cur, cur+cost) {
			break
		}
	}
	select {
	case h.recvc <- m:
	default:
		h.recvq.bytes.Add(-cost)
		h.dropReceived(from, &m, cost, h.recvq.bytes.Load())
	}
}

// dropReceived counts a message the queue has no room for and logs it if
// no drop was logged in the last recvDropLogEvery.
func (h *Heap) dropReceived(from string, m *raftpb.Message, cost, queued int64) {
	total := h.recvq.dropped.Add(1)
	now := time.Now().UnixNano()
	if last := h.recvq.warned.Load(); (last == 0 || now-last >= int64(recvDropLogEvery)) && h.recvq.warned.CompareAndSwap(last, now) {
		h.log.Warn("raft messages dropped: the heap's queue of messages from peers is full; raft sends again",
			"from", from, "type", m.Type, "bytes", cost, "queued", queued, "messages", len(h.recvc),
			"limit", h.node.limits.recvQueue, "dropped", total)
	}
}

// route decodes a raft message and finds its replica, opening one if a
// leader of a catalog heap says so; see receive. A client's message must
// pass admits (acl.go).
func (n *Node) route(from string, data []byte) (*Heap, raftpb.Message, bool) {
	var env raftEnvelope
	var m raftpb.Message
	if err := env.decode(data); err != nil {
		n.log.Warn("malformed raft envelope dropped", "peer", from, "err", err)
		return nil, m, false
	}
	if err := m.Unmarshal(env.Msg); err != nil {
		n.log.Warn("malformed raft message dropped", "peer", from, "heap", env.Heap, "err", err)
		return nil, m, false
	}
	if name, ok := n.lookup(m.From); !ok || name != from {
		n.log.Debug("raft message from an unknown or forged sender dropped", "peer", from, "heap", env.Heap)
		return nil, m, false
	}
	if m.To != n.id {
		return nil, m, false // for an earlier start of this node
	}
	h := n.replicaOf(env.Heap)
	if h == nil && n.recovered.Load() && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap || m.Type == raftpb.MsgHeartbeat) {
		if e, ok := n.catalogEntry(env.Heap); ok && e.Group == env.Group {
			var err error
			if h, err = n.openReplica(e); err != nil {
				n.log.Debug("replica not opened", "heap", env.Heap, "err", err)
			}
		}
	}
	if h == nil || h.group != env.Group {
		return nil, m, false // not a replica of this heap (yet), or of an earlier incarnation
	}
	if !n.admits(from, h, &m) {
		return nil, m, false
	}
	return h, m, true
}

// receiveSnapshot takes a raft snapshot streamed by a leader: the message
// in the header, the state in the body, decoded as it arrives
// (consistency.ReadSnapshot), so the encoding is never whole in memory.
// The node takes at most Config.MaxSnapshotStreams at once and at most
// Config.MaxSnapshotBytes of them all together; a stream beyond either is
// refused with an error, and raft on the leader tries again later. The
// decoded state goes to the loop offered apart from the message, which
// carries a token for it.
func (n *Node) receiveSnapshot(ctx context.Context, from string, header []byte, body io.Reader) error {
	h, m, ok := n.route(from, header)
	if !ok || m.Type != raftpb.MsgSnap || m.Snapshot == nil {
		return errors.New("oss: snapshot stream for no replica here")
	}
	in, err := n.snapIn.begin(n.cfg, body)
	if err != nil {
		return err
	}
	defer in.end()
	st, err := consistency.ReadSnapshot(in, m.Snapshot.Metadata.Index)
	if err != nil {
		return fmt.Errorf("oss: snapshot of heap %q from %s: %w", h.name, from, err)
	}
	select {
	case <-h.done:
		return ErrClosed
	default:
	}
	m.Snapshot.Data = h.replica.OfferSnapshot(st)
	// The message carries a token for the state, bounded apart
	// (MaxSnapshotBytes): it is counted in the queue's bytes but waits for
	// room rather than being dropped.
	cost := recvCost(&m)
	h.recvq.bytes.Add(cost)
	select {
	case h.recvc <- m:
		h.snapStats.received.Add(1)
		h.snapStats.receivedBytes.Add(uint64(in.n))
		h.log.Info("snapshot received", "from", from, "index", st.Index(), "objects", st.Len(), "bytes", in.n)
		return nil
	case <-ctx.Done():
		h.recvq.bytes.Add(-cost)
		h.replica.WithdrawSnapshot(m.Snapshot.Data)
		return ctx.Err()
	case <-h.done:
		h.recvq.bytes.Add(-cost)
		h.replica.WithdrawSnapshot(m.Snapshot.Data)
		return ErrClosed
	}
}

// Refusals of snapshot streams beyond the node's bounds.
var (
	errSnapshotStreams = errors.New("oss: too many snapshot streams being received (Config.MaxSnapshotStreams); the leader tries again later")
	errSnapshotBytes   = errors.New("oss: snapshot streams exceed Config.MaxSnapshotBytes on this node")
)

// snapshotIntake bounds the snapshots a node receives at once: how many,
// and the bytes they have brought so far, all together. The zero value is
// ready to use.
type snapshotIntake struct {
	streams atomic.Int64
	bytes   atomic.Int64
}

// begin admits a stream, or refuses it if Config.MaxSnapshotStreams are
// being received; the stream's reader counts what it reads against
// Config.MaxSnapshotBytes.
func (s *snapshotIntake) begin(cfg *Config, body io.Reader) (*intakeStream, error) {
	if s.streams.Add(1) > int64(cfg.MaxSnapshotStreams) {
		s.streams.Add(-1)
		return nil, fmt.Errorf("%w: %d", errSnapshotStreams, cfg.MaxSnapshotStreams)
	}
	return &intakeStream{in: s, r: body, max: cfg.MaxSnapshotBytes}, nil
}

// intakeStream is one admitted snapshot stream.
type intakeStream struct {
	in  *snapshotIntake
	r   io.Reader
	max int64
	n   int64 // bytes read and counted
	err error
}

func (s *intakeStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	k, err := s.r.Read(p)
	if k > 0 {
		s.n += int64(k)
		if total := s.in.bytes.Add(int64(k)); total > s.max {
			s.err = fmt.Errorf("%w (%d bytes): the node holds %d bytes of snapshots being received", errSnapshotBytes, s.max, total)
			return 0, s.err
		}
	}
	return k, err
}

// end lets the stream's share of the bounds go.
func (s *intakeStream) end() {
	s.in.bytes.Add(-s.n)
	s.in.streams.Add(-1)
}

// sendSnapshot streams a raft snapshot to a peer, off the heap's loop,
// and reports the outcome to raft through the loop.
func (h *Heap) sendSnapshot(to string, m raftpb.Message) {
	data := m.Snapshot.Data
	var body io.Reader = bytes.NewReader(data)
	from := "message"
	if bytes.Equal(data, streamMarker) {
		// Encoded as it is sent, off the loop, from the checkpoint or the
		// immutable state the storage captured.
		write, fromStore := h.storage.openStream()
		from = "state"
		if fromStore {
			from = "store"
			h.storeSnapshots.Add(1)
		}
		pr, pw := io.Pipe()
		body = pr
		h.node.wg.Go(func() { pw.CloseWithError(write(pw)) })
	}
	meta := *m.Snapshot
	meta.Data = nil
	m.Snapshot = &meta
	msg, err := m.Marshal()
	if err != nil {
		h.replica.ReportSnapshot(m.To, true)
		return
	}
	env := raftEnvelope{Heap: h.name, Group: h.group, Msg: msg}
	header := env.appendTo(nil)
	n := h.node
	h.snapStats.sent.Add(1)
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(n.ctx, snapshotTimeout)
		err := n.tr.SendStream(ctx, to, header, countingReader{body, &h.snapStats.sentBytes})
		cancel()
		if err != nil {
			h.snapStats.sendFailed.Add(1)
		}
		if pr, ok := body.(*io.PipeReader); ok {
			pr.CloseWithError(errors.New("oss: snapshot stream ended")) // stops the encoder if the send failed
		}
		if err != nil {
			h.log.Warn("snapshot not sent", "to", to, "index", meta.Metadata.Index, "err", err)
		} else {
			h.log.Info("snapshot sent", "to", to, "index", meta.Metadata.Index, "from", from)
		}
		select {
		case h.snapc <- snapOutcome{id: m.To, failed: err != nil}:
		case <-h.done:
		}
	})
}

// snapshotTimeout bounds sending one snapshot.
const snapshotTimeout = 10 * time.Minute

type snapOutcome struct {
	id     uint64
	failed bool
}

// openGroup opens a heap replicated over the given group, outside the
// catalog. Every first voter must open it with the same spec.
func (n *Node) openGroup(ctx context.Context, name string, spec groupSpec) (*Heap, error) {
	if err := validHeapName(name); err != nil {
		return nil, err
	}
	return n.openOnce(name, func() (*Heap, error) {
		for _, m := range append(append([]groupMember{}, spec.voters...), spec.learners...) {
			n.learn(m.ID, m.Name)
		}
		return newHeap(n, name, openMode{spec: &spec, replicas: len(spec.voters)})
	})
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
