package oss

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/objectsharing/oss/transport"
)

// Node is one OSS process's membership in a cluster: it holds local
// replicas of the heaps it opened. A Node is safe for concurrent use.
type Node struct {
	cfg    *Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	quic    *transport.QUIC     // nil without Listen
	tr      transport.Transport // node-to-node traffic; nil without a network
	members *membership         // nil without Listen

	mu     sync.Mutex // protects following fields
	heaps  map[string]*Heap
	closed bool
}

// Start validates cfg, fills in its defaults and starts a node. A nil cfg
// means all defaults: a single in-memory node. ctx bounds the start only;
// the node runs until Close.
func Start(ctx context.Context, cfg *Config) (*Node, error) {
	c := populate(cfg)
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:    c,
		log:    c.Logger.With("node", c.Name),
		ctx:    nctx,
		cancel: cancel,
		heaps:  make(map[string]*Heap),
	}
	if c.Listen != "" {
		if err := n.startNetwork(ctx); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// startNetwork opens the QUIC endpoint and joins the cluster over it.
func (n *Node) startNetwork(ctx context.Context) error {
	c := n.cfg
	q, err := transport.NewQUIC(&transport.QUICConfig{
		Name: c.Name, Listen: c.Listen,
		CertPEM: c.TLS.CertPEM, KeyPEM: c.TLS.KeyPEM, CAPEM: c.TLS.CAPEM,
		Handler: nodeHandler{n}, Logger: n.log,
	})
	if err != nil {
		return fmt.Errorf("oss: %w", err)
	}
	n.quic = q
	n.tr = q
	advertise := c.Advertise
	if advertise == "" {
		advertise = q.Addr().String()
	}
	n.members, err = startMembership(memberConfig{
		name: c.Name, role: c.Role, quic: q, advertise: advertise,
		fast: c.Gossip == GossipLoopback, logger: n.log,
		onEvent: func(e MemberEvent) {
			n.log.Info("member "+e.Kind.String(), "member", e.Member.Name, "addr", e.Member.Addr)
		},
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return n.members.join(c.Join)
}

// Addr returns the address of the node's QUIC endpoint, or "" if the node
// does not listen.
func (n *Node) Addr() string {
	if n.quic == nil {
		return ""
	}
	return n.quic.Addr().String()
}

// Members returns the live members of the cluster, this node included. A
// node that does not listen is alone.
func (n *Node) Members() []Member {
	if n.members == nil {
		return []Member{{Name: n.cfg.Name, Role: n.cfg.Role}}
	}
	return n.members.members()
}

// nodeHandler receives what peers send the node: raft messages for the
// heaps it holds. Calls and streams arrive with replica management.
type nodeHandler struct{ n *Node }

func (h nodeHandler) HandleMessage(from string, msg []byte) { h.n.receive(from, msg) }

func (h nodeHandler) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	return nil, fmt.Errorf("oss: no calls are served yet")
}

func (h nodeHandler) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	return fmt.Errorf("oss: no streams are served yet")
}

// Context returns a context that is cancelled when the node closes.
func (n *Node) Context() context.Context { return n.ctx }

// Heap opens the named heap, creating it if it does not exist, and keeps a
// local replica of it on this node. Opening the same name again returns the
// same *Heap.
func (n *Node) Heap(ctx context.Context, name string) (*Heap, error) {
	if err := validHeapName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
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
	h, err := newHeap(n, name, nil)
	if err != nil {
		return nil, err
	}
	n.heaps[name] = h
	return h, nil
}

func validHeapName(name string) error {
	if name == "" || len(name) > 255 || !utf8.ValidString(name) {
		return fmt.Errorf("oss: invalid heap name %q: want 1 to 255 bytes of UTF-8", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("oss: invalid heap name %q: control character", name)
		}
	}
	return nil
}

// Close closes every heap and stops every goroutine the node started, then
// returns. Transactions that have not committed end with ErrClosed (or
// ErrCommitUnknown if their record was already in the log). Close is
// idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	heaps := n.heaps
	n.mu.Unlock()
	n.cancel()
	for _, h := range heaps {
		h.close()
	}
	var err error
	if n.members != nil {
		if lerr := n.members.leave(5 * time.Second); lerr != nil {
			err = fmt.Errorf("oss: leave: %w", lerr)
		}
	}
	if n.quic != nil {
		n.quic.Close()
	}
	return err
}
