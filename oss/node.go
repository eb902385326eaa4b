package oss

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"unicode/utf8"
)

// Node is one OSS process's membership in a cluster: it holds local
// replicas of the heaps it opened. A Node is safe for concurrent use.
type Node struct {
	cfg    *Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

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
	return n, nil
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
	h, err := newHeap(n, name)
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
	return nil
}
