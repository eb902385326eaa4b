package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/consistency"
	"go.etcd.io/raft/v3/raftpb"
)

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
	// What the log line says is read now: once the loop has the message,
	// the decoded state is the replica's, which changes it.
	index, objects := st.Index(), st.Len()
	m.Snapshot.Data = h.replica.OfferSnapshot(st)
	// The message carries a token for the state, bounded apart
	// (MaxSnapshotBytes): it is counted in the queue's bytes but waits for
	// room rather than being dropped.
	cost := recvCost(m)
	h.recvq.bytes.Add(cost)
	select {
	case h.recvc <- m:
		h.snapStats.received.Add(1)
		h.snapStats.receivedBytes.Add(uint64(in.n))
		h.log.Info("snapshot received", "from", from, "index", index, "objects", objects, "bytes", in.n)
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
