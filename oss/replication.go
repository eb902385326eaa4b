package oss

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3"
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
	name, err := e.decodeName(b)
	if err != nil {
		return err
	}
	e.Heap = string(name)
	return nil
}

// decodeName is decode leaving Heap alone: it returns the heap's name as
// the bytes of b that hold it. A node routes every message it receives
// by that name, and looks its heap up without making a string of it.
func (e *raftEnvelope) decodeName(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != envelopeVersion {
		return nil, errors.New("unknown envelope version")
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 255 || uint64(len(b)-k) < n+8 {
		return nil, errors.New("short or oversized envelope")
	}
	b = b[k:]
	e.Group = binary.BigEndian.Uint64(b[n : n+8])
	e.Msg = b[n+8:]
	return b[:n:n], nil
}

// sendTimeout bounds the wait for room in a peer's send queue; raft
// retransmits what is dropped.
const sendTimeout = 20 * time.Millisecond

// control says whether a raft message goes on the transport's control
// stream (transport.ControlSender): every message but those that carry
// entries of a commit's size, appends (MsgApp) and proposals a follower
// forwards (MsgProp) of more than controlProposalBytes, and snapshots
// (MsgSnap), which are streamed apart. Heartbeats, votes and their
// responses are small and due at once; on the stream of the appends they
// would wait behind up to a frame (8 MiB) each, and under load past the
// election timeout. A small forward goes with them: a follower forwards
// what it held while its log wrote as that write's acknowledgement
// goes, so the two leave in one write of one send goroutine and reach
// the leader together, which then sends the new commit index with the
// forwarded entries in one append. The order between the two streams is
// not kept, which raft tolerates (see transport's package documentation,
// "Ordering"), and proposals have no order among themselves.
func control(t raftpb.MessageType, size int) bool {
	switch t {
	case raftpb.MsgProp:
		return size <= controlProposalBytes
	case raftpb.MsgApp, raftpb.MsgSnap:
		return false
	}
	return true
}

// controlProposalBytes is the largest forwarded proposal message that
// takes the control stream: a few commits of the usual size. A heartbeat
// waits behind at most a few of them.
const controlProposalBytes = 16 << 10

// send hands raft messages to the transport: appends and proposals on its
// message stream, the rest on its control stream if it has one.
func (h *Heap) send(msgs []raftpb.Message) {
	tr := h.node.tr
	if tr == nil {
		return
	}
	ctl, _ := tr.(transport.ControlSender)
	var ctx context.Context
	defer h.bound.release()
	for i := range msgs {
		m := &msgs[i]
		if h.sent.repeats(m, h.eng.Ticks()) {
			continue // see sentAppends
		}
		to, ok := h.node.lookup(m.To)
		if !ok {
			h.sent.forget(m.To)
			h.replica.ReportUnreachable(m.To)
			if m.Type == raftpb.MsgSnap {
				h.replica.ReportSnapshot(m.To, true)
			}
			continue
		}
		if m.Type == raftpb.MsgSnap {
			h.sendSnapshot(to, h.withAddedAt(*m))
			continue
		}
		h.eng.MarkNotice(m)
		data, err := h.encodeRaft(m)
		if err != nil {
			h.log.Error("raft message not encoded", "err", err)
			continue
		}
		if ctx == nil {
			// One bound for the whole batch: a timer per message costs
			// more than the send.
			ctx = h.bound.start(h.node.ctx)
		}
		if ctl != nil && control(m.Type, len(data)) {
			err = ctl.SendControl(ctx, to, data)
		} else {
			err = tr.Send(ctx, to, data)
		}
		if err != nil {
			if errors.Is(err, transport.ErrTooLarge) {
				h.logOversize(to, m, len(data), err)
			}
			h.sent.forget(m.To)
			h.replica.ReportUnreachable(m.To)
		}
	}
}

// answerEarly sends a durable write's answers to peers (raft's
// acknowledgements and votes, engine.Write.Answers) from the log's
// writer, the moment the write is durable, so that a follower's
// acknowledgement does not wait for its loop to take the log's answer
// and hand out a Ready. It never waits for queue room and touches
// nothing of the loop's: it reports false if any answer did not go
// (a peer unknown, a queue full, a message that does not encode), and
// the loop then sends them all as before, telling raft of a peer it
// cannot reach. A duplicate acknowledgement or vote is harmless to
// raft. What goes out is what the loop would send once told the write
// is durable, no earlier.
func (h *Heap) answerEarly(msgs []raftpb.Message) bool {
	tr := h.node.tr
	if tr == nil {
		return false
	}
	ctl, _ := tr.(transport.ControlSender)
	for i := range msgs {
		m := &msgs[i]
		to, ok := h.node.lookup(m.To)
		if !ok || m.Type == raftpb.MsgSnap {
			return false
		}
		data, err := h.encodeRaft(m)
		if err != nil {
			return false
		}
		if ctl != nil && control(m.Type, len(data)) {
			err = ctl.SendControl(noWait, to, data)
		} else {
			err = tr.Send(noWait, to, data)
		}
		if err != nil {
			return false
		}
	}
	return true
}

// encodeRaft encodes m as the transport carries it: [heap, raftpb bytes].
func (h *Heap) encodeRaft(m *raftpb.Message) ([]byte, error) {
	env := raftEnvelope{Heap: h.name, Group: h.group}
	data := env.appendTo(make([]byte, 0, 16+len(h.name)+m.Size()))
	n, err := m.MarshalTo(data[len(data):cap(data)])
	if err != nil {
		return nil, err
	}
	return data[:len(data)+n], nil
}

// noWait is a context already done: a send under it takes queue room
// that is free and waits for none.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// sendBound is the context that bounds a batch of sends, sendTimeout
// from its start. The transport looks at it only when a peer's queue is
// full, so the context with the deadline, its timer and its place among
// the node context's children are made only then: a loop sends a batch
// for nearly every Ready. One Heap's loop uses its own, one batch at a
// time (start, release), and a transport uses it only while Send runs.
type sendBound struct {
	parent   context.Context
	deadline time.Time
	ctx      context.Context // made at the first Done
	cancel   context.CancelFunc
}

// start begins a batch under parent and returns its bound.
func (b *sendBound) start(parent context.Context) context.Context {
	b.parent, b.deadline = parent, time.Now().Add(sendTimeout)
	return b
}

// release ends the batch.
func (b *sendBound) release() {
	if b.cancel != nil {
		b.cancel()
	}
	*b = sendBound{}
}

func (b *sendBound) made() context.Context {
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithDeadline(b.parent, b.deadline)
	}
	return b.ctx
}

func (b *sendBound) Deadline() (time.Time, bool) { return b.deadline, true }
func (b *sendBound) Done() <-chan struct{}       { return b.made().Done() }
func (b *sendBound) Value(key any) any           { return b.parent.Value(key) }

func (b *sendBound) Err() error {
	if b.ctx != nil {
		return b.ctx.Err()
	}
	if err := b.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(b.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// receive routes a raft message from a peer to its heap. The message must
// come from a raft ID of the node the transport authenticated, and be for
// this node's ID (not for an earlier start of a node of the same name). A
// message from a leader for a heap in the catalog that this node has no
// replica of opens one: the leader added this node to the group. A
// snapshot comes only as a stream (receiveSnapshot), decoded before raft
// sees it: one in a message carries its state undecoded, and a replica
// that restored state that does not decode was lost.
func (n *Node) receive(from string, data []byte) {
	h, m, ok := n.route(from, data)
	if !ok {
		return
	}
	if m.Type == raftpb.MsgSnap {
		n.noteMalformed(from, "raft snapshot in a message dropped: snapshots come as streams", "heap", h.name)
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
func (h *Heap) stepReceived(m *raftpb.Message) {
	h.recvq.taken(m)
	if m.Type == raftpb.MsgSnap {
		h.snapshotAfterReturn(*m)
	}
	h.step(*m)
}

// recvDropLogEvery is the least time between two log lines about raft
// messages a heap's full queue dropped.
const recvDropLogEvery = 10 * time.Second

// enqueue hands a raft message from a peer to the heap's loop, never
// waiting: while the loop is behind, its queue holds at most 4096
// messages and the node's recvQueue limit of bytes (one message at least),
// and a message beyond either is dropped, counted and logged (at most
// every 10 s); raft sends again.
func (h *Heap) enqueue(from string, m *raftpb.Message) {
	cost := recvCost(m)
	limit := h.node.limits.recvQueue
	for {
		cur := h.recvq.bytes.Load()
		if cur > 0 && cur+cost > limit {
			h.dropReceived(from, m, cost, cur)
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
		h.dropReceived(from, m, cost, h.recvq.bytes.Load())
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
func (n *Node) route(from string, data []byte) (*Heap, *raftpb.Message, bool) {
	var env raftEnvelope
	heap, err := env.decodeName(data)
	if err != nil {
		n.noteMalformed(from, "malformed raft envelope dropped", "err", err)
		return nil, nil, false
	}
	m, err := decodeRaft(env.Msg)
	if err != nil {
		n.noteMalformed(from, "malformed raft message dropped", "heap", string(heap), "err", err)
		return nil, nil, false
	}
	if err := raftShape(m); err != nil {
		n.noteMalformed(from, "malformed raft message dropped", "heap", string(heap), "type", m.Type, "err", err)
		return nil, m, false
	}
	if name, ok := n.lookup(m.From); !ok || name != from {
		n.log.Debug("raft message from an unknown or forged sender dropped", "peer", from, "heap", string(heap))
		return nil, m, false
	}
	if m.To != n.id {
		return nil, m, false // for an earlier start of this node
	}
	if !n.addressed.Load() { // read first, as markReached does
		// A group may hold the node's ID: a failed start keeps it
		// (unadmitted.go).
		n.addressed.Store(true)
	}
	h := n.replicaOfName(heap)
	if h == nil && n.recovered.Load() && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap || m.Type == raftpb.MsgHeartbeat) &&
		n.cachedRole(from) == pki.RoleServer {
		// Only from a catalog that has applied its recovered log, as
		// engine.Sync decides: an older one may still list a heap this
		// node dropped, and a replica opened for it would rejoin the
		// dropped group (found by the simulation, seed 1968). Only for
		// a server, as only a voter sends these (admits drops a
		// client's): a client's heartbeat had a server open a replica
		// of any heap, which then joined its group as a learner.
		cat := n.catalog.Load().state.Load()
		if e, ok := n.catalogEntry(string(heap)); ok && e.Group == env.Group && cat.Index() >= n.catalogGate.index.Load() {
			var err error
			if h, err = n.openReplica(e); err != nil {
				n.log.Debug("replica not opened", "heap", string(heap), "err", err)
			}
		}
	}
	if h == nil || h.group != env.Group {
		return nil, m, false // not a replica of this heap (yet), or of an earlier incarnation
	}
	if !n.admits(from, h, m) {
		return nil, m, false
	}
	return h, m, true
}

// raftShape refuses a raft message raft would fail on: a read-index
// request without its one entry (raft reads the first entry's data as
// the request's context: a leader given none panicked, ending the
// process) and a proposal without entries (raft panics on it, and the
// leader's replica was closed as lost). raft sends neither; a peer
// made them up. Nor a read-index request whose context names another
// replica. Nor a message of raft's own storage (raft.IsLocalMsg) or from
// an ID raft reserves for it (reservedID): raft steps a storage message
// from such an ID as its storage's word, and one peer's "applied up to
// 2^40" made raft panic, closing the replica as lost.
func raftShape(m *raftpb.Message) error {
	switch {
	case raft.IsLocalMsg(m.Type):
		return fmt.Errorf("a %v, which raft sends only to itself", m.Type)
	case reservedID(m.From):
		return fmt.Errorf("a message from raft ID %x, which raft reserves", m.From)
	case m.Type == raftpb.MsgReadIndex && len(m.Entries) != 1:
		return fmt.Errorf("a read-index request with %d entries, not 1", len(m.Entries))
	case m.Type == raftpb.MsgProp && len(m.Entries) == 0:
		return errors.New("a proposal without entries")
	case m.Type == raftpb.MsgReadIndex && len(m.Entries[0].Data) == 16 && binary.BigEndian.Uint64(m.Entries[0].Data) != m.From:
		// A context names the replica that asks (engine's readContext):
		// a leader drops a request whose context is pending, so one
		// naming another replica could hold that replica's read back.
		return fmt.Errorf("a read-index request in the name of raft ID %x", binary.BigEndian.Uint64(m.Entries[0].Data))
	}
	return nil
}

// noteMalformed logs a raft message of peer that did not decode: the
// first at once, the next ones of that peer at most once a
// joinRefusalEvery, with the count of those not logged between. A member
// can send them as fast as its connection carries them, and each was a
// line of the log.
func (n *Node) noteMalformed(peer, msg string, args ...any) {
	if unlogged, ok := n.malformed.note("", peer, time.Now()); ok {
		n.log.Warn(msg, append([]any{"peer", peer}, append(args, "unlogged", unlogged)...)...)
	}
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
