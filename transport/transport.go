// Package transport carries messages between OSS nodes.
//
// # Overview
//
// A Transport offers two services to the node above it:
//
//   - Send: one-way messages (raft traffic), best-effort and ordered per
//     peer. A message may be lost when a connection fails; raft retransmits.
//     Each peer has a bounded send queue; when it is full Send waits, up to
//     its context, instead of letting the queue grow. The QUIC transport
//     bounds the queue in bytes too, and drops at once a message that does
//     not fit. A transport may also be a ControlSender: SendControl sends
//     small, urgent one-way messages (raft heartbeats, votes, responses)
//     on a queue and stream of their own, so that they do not wait behind
//     large ones (raft appends of up to a frame).
//   - Call: request/response, reliable or failing with an error. Every call
//     takes a context; a peer that vanishes mid-call makes it fail, never
//     hang.
//   - SendStream: a header and a body of any size (raft snapshots), sent in
//     chunks under the connection's flow control, acknowledged by the
//     receiver once consumed.
//
// # Ordering
//
// One-way messages come in two classes, those sent with Send and those
// sent with SendControl, and order is kept per peer and per class only:
// the messages one node sends a peer with Send arrive in the order they
// were sent, and so do those it sends with SendControl, but a control
// message may overtake a message sent before it with Send, and the
// reverse. A transport without SendControl has one class; a caller falls
// back to Send and gets one order.
//
// Raft, the user of both, is built for a network that drops, duplicates
// and reorders, so the order between classes does not matter to its
// safety: every message carries its sender's term and a receiver of a
// later term ignores it (or answers so the sender steps down); an append
// names the index and term it follows and is rejected, never misapplied,
// when the follower's log does not match; a heartbeat's commit index is
// at most what the follower has acknowledged (etcd raft sends
// min(Match, committed)), so a heartbeat that overtakes an append never
// commits an entry the follower lacks; a vote is granted at most once per
// term. Kept in order per class, appends to a follower still arrive in
// order, which spares raft probes and rejections. etcd's rafthttp splits
// its traffic the same way: one stream for MsgApp, one for every other
// message, and a pipeline for snapshots.
//
// Peers are named by node name. The QUIC implementation authenticates every
// peer against the cluster CA (mutual TLS 1.3) and takes its name from its
// certificate; transporttest is an in-memory network with the same
// interface for tests, with partitions, drops, delays, duplicates and
// reordering.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Handler receives what peers send. Its methods are called concurrently.
type Handler interface {
	// HandleMessage receives a one-way message. Messages of one peer and
	// one class (Send or SendControl) arrive in the order they were sent;
	// see Ordering in the package documentation. Messages of the two
	// classes may be handled at the same time. msg is owned by the
	// handler.
	HandleMessage(from string, msg []byte)
	// HandleCall answers a request. An error is returned to the caller as
	// a *RemoteError. Over QUIC, ctx names the caller's process
	// (CallerLife).
	HandleCall(ctx context.Context, from string, req []byte) ([]byte, error)
	// HandleStream receives a stream (a raft snapshot): a header, then the
	// body, read from r until io.EOF. The error, or nil, is returned to the
	// sender. r is valid until HandleStream returns.
	HandleStream(ctx context.Context, from string, header []byte, r io.Reader) error
}

// Transport is a node's endpoint.
type Transport interface {
	// Name is this node's name.
	Name() string
	// Send queues msg for the named peer. It waits while the peer's queue
	// is full, until ctx ends. A message larger than the transport carries
	// fails at once with an error matching ErrTooLarge, and is never
	// queued. A transport that bounds its queue in bytes may refuse a
	// message at once with ErrQueueFull; it is dropped.
	Send(ctx context.Context, to string, msg []byte) error
	// Call sends req to the named peer and waits for its answer. A request
	// too large to send fails at once with ErrTooLarge; an answer too
	// large to send comes back as a *RemoteError saying so.
	Call(ctx context.Context, to string, req []byte) ([]byte, error)
	// SendStream sends a header and then everything read from body to the
	// named peer, with flow control, and returns once the peer's handler
	// has consumed it and answered.
	SendStream(ctx context.Context, to string, header []byte, body io.Reader) error
	// Close stops the endpoint and every goroutine it started.
	Close() error
}

// Network is an in-process network that nodes attach to instead of
// opening QUIC endpoints, with a membership service in place of gossip:
// transporttest's Network, or a test's network that wraps it to inject
// faults. It authenticates nobody and is for tests only: a node given one
// (oss.Config.Transport) trusts every name on it.
type Network interface {
	// Attach gives the named node an endpoint on the network; h receives
	// what peers send it. A node attached again under the same name
	// replaces the endpoint it had.
	Attach(name string, h Handler) (Transport, error)
	// Announce publishes the named node's membership record, opaque to
	// the network, which Live then returns to the nodes that see it; a nil
	// meta withdraws it (the node is leaving).
	Announce(name string, meta []byte)
	// Live returns the records of the nodes the named node sees alive,
	// itself included if it announced one: attached, not closed, with a
	// record. Which nodes a partition hides is the network's to say.
	Live(name string) []Peer
}

// Peer is a node's membership record on a Network.
type Peer struct {
	Name string
	Meta []byte
}

// ControlSender is a Transport that can send one-way messages on a queue
// and stream of their own, ahead of what Send has queued: raft's
// heartbeats, votes and responses, which must not wait behind a large
// append. A caller asks for it with a type assertion and falls back to
// Send without it (transporttest's Endpoint has none: its messages wait
// behind nothing).
type ControlSender interface {
	// SendControl queues msg for the named peer like Send, on the control
	// queue: it waits while that queue is full, until ctx ends, fails at
	// once with ErrTooLarge for a message larger than the transport
	// carries, and may refuse a message at once with ErrQueueFull. It
	// keeps order with other control messages to the peer, not with
	// messages sent with Send.
	SendControl(ctx context.Context, to string, msg []byte) error
}

// Errors of the transport.
var (
	ErrClosed      = errors.New("transport: closed")
	ErrUnknownPeer = errors.New("transport: unknown peer")
	ErrUnreachable = errors.New("transport: peer unreachable")
	// ErrNameTaken: the peer closed the connection because a node of this
	// node's name is connected to it from another address and answers
	// there. Trying again helps only once that node is gone.
	ErrNameTaken = errors.New("transport: this node's name is connected from another address")
	// ErrNameUnproven: the peer closed the connection because a node of
	// this node's name is connected to it from another address and
	// answers there (or the peer is of this name itself), and this
	// endpoint did not answer its ping in time to show it is that
	// process by another path (a NAT, a proxy, two interfaces; a starved
	// machine answers late). An error with it matches ErrUnreachable,
	// not ErrNameTaken: trying again may succeed, and a node that joins
	// tries again.
	ErrNameUnproven = fmt.Errorf("%w: the peer did not take the connection yet: this endpoint's answer to its ping came late", ErrUnreachable)
	ErrTooLarge     = errors.New("transport: frame too large")
	// ErrQueueFull: the peer's send queue holds as many bytes as it may;
	// the message was dropped.
	ErrQueueFull = errors.New("transport: send queue full")
	// ErrRefused: the TLS handshake with the peer was refused, by it or
	// by this endpoint (a certificate of another CA, an expired or a
	// revoked one, a name that does not match). An error with it matches
	// ErrUnreachable too; unlike a peer that does not answer, trying
	// again does not help until a certificate changes.
	ErrRefused = errors.New("transport: handshake refused")
	// ErrPeerRefused: the peer, not this endpoint, refused the
	// handshake: it does not accept this endpoint's certificate. An
	// error with it matches ErrRefused too.
	ErrPeerRefused = fmt.Errorf("%w: the peer refused this endpoint's certificate", ErrRefused)
	// ErrPacedAsStranger: the peer refused the connection at its first
	// packet (CONNECTION_REFUSED), before any handshake: it paces the
	// handshakes of this IP address, from which a certificate no CA of
	// its cluster signed was presented (this endpoint's, or another
	// program's there). quic-go also refuses so a connection it has no
	// room for, or while it closes. An error with it matches
	// ErrUnreachable, not ErrRefused: a later dial may get through.
	ErrPacedAsStranger = errors.New("transport: refused before the handshake: this address is paced as a stranger's")
)

// RemoteError is an error returned by a peer's handler.
type RemoteError struct {
	Peer    string
	Message string
}

func (e *RemoteError) Error() string {
	return "transport: " + e.Peer + ": " + e.Message
}
