// Package cluster starts OSS nodes in one process, on loopback QUIC with
// certificates from a fresh cluster CA, for Wissenheim's benchmark and
// tests: the setup of the README's "Nodes on a network", done for N
// nodes, with a way to kill a node and restart it on its data directory.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// Options configure a cluster.
type Options struct {
	// Nodes is the number of nodes. If zero, 3.
	Nodes int
	// Dir, if not empty, holds the nodes' data directories (Dir/node1, …),
	// so that a killed node restarts with what it had; otherwise the nodes
	// keep nothing on disk.
	Dir string
	// Durability applies with Dir; if zero, oss's default (Sync).
	Durability oss.Durability
	// Logger receives the nodes' logs. If nil, slog.Default().
	Logger *slog.Logger
	// Relays puts a relay in front of each node (the address it
	// advertises), so that Partition can cut links between nodes.
	Relays bool
}

// Cluster is a set of nodes in this process.
type Cluster struct {
	// Nodes are the nodes, by index; a killed node's entry is nil until
	// it restarts.
	Nodes  []*oss.Node
	opts   Options
	caCert []byte
	caKey  []byte
	addrs  []string
	tls    []*oss.TLSConfig // kept across restarts, as a node keeps its key
	relays []*relay
}

// Start starts the nodes, each joining through the first.
func Start(ctx context.Context, o *Options) (*Cluster, error) {
	c := &Cluster{opts: *o}
	if c.opts.Nodes == 0 {
		c.opts.Nodes = 3
	}
	var err error
	c.caCert, c.caKey, err = pki.NewCA("wissenheim", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	c.Nodes = make([]*oss.Node, c.opts.Nodes)
	c.addrs = make([]string, c.opts.Nodes)
	c.tls = make([]*oss.TLSConfig, c.opts.Nodes)
	if c.opts.Relays {
		for range c.opts.Nodes {
			r, err := newRelay()
			if err != nil {
				c.Close(ctx)
				return nil, err
			}
			c.relays = append(c.relays, r)
		}
	}
	for i := range c.Nodes {
		if err := c.start(ctx, i, "127.0.0.1:0"); err != nil {
			c.Close(ctx)
			return nil, err
		}
	}
	return c, nil
}

// Name returns the name of node i.
func Name(i int) string { return fmt.Sprintf("node%d", i+1) }

func (c *Cluster) start(ctx context.Context, i int, listen string) error {
	name := Name(i)
	if c.tls[i] == nil {
		// A restarted node keeps its key: peers recognise the stateless
		// resets it answers their old connections with only then.
		cert, key, err := pki.IssueCert(c.caCert, c.caKey, name, pki.RoleServer, 24*time.Hour)
		if err != nil {
			return err
		}
		c.tls[i] = &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}
	}
	cfg := &oss.Config{
		Name:   name,
		Listen: listen,
		TLS:    c.tls[i],
		Gossip: oss.GossipLoopback,
		Logger: c.opts.Logger,
		// A killed node's voters are replaced only if it stays away.
		ReplaceAfter: time.Minute,
		// A join that finds no member answering in time (the machine
		// starved: a handshake and a push/pull get 2 s) tries again,
		// until ctx ends, rather than failing the cluster's start.
		JoinRetry: true,
	}
	if c.opts.Dir != "" {
		cfg.DataDir = filepath.Join(c.opts.Dir, name)
		cfg.Durability = c.opts.Durability
	}
	if c.relays != nil {
		cfg.Advertise = c.relays[i].addr()
	}
	for j, n := range c.Nodes {
		switch {
		case j == i || n == nil:
		case c.relays != nil:
			cfg.Join = append(cfg.Join, c.relays[j].addr())
		default:
			cfg.Join = append(cfg.Join, c.addrs[j])
		}
	}
	if c.relays != nil {
		// The relay must know where to forward before the node joins:
		// bind the address first (a restart reuses the one it had).
		if listen == "127.0.0.1:0" {
			l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return err
			}
			listen = l.LocalAddr().String()
			l.Close()
		}
		cfg.Listen = listen
		if err := c.relays[i].setBack(listen); err != nil {
			return err
		}
	}
	n, err := oss.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.Nodes[i], c.addrs[i] = n, n.Addr()
	return nil
}

// Heap creates (on the first live node) or opens the heap on every live
// node, with a voter on each of the first three, and returns the handles
// by node index.
func (c *Cluster) Heap(ctx context.Context, name string) ([]*oss.Heap, error) {
	hs := make([]*oss.Heap, len(c.Nodes))
	for i, n := range c.Nodes {
		if n == nil {
			continue
		}
		h, err := n.CreateHeapIfNotExists(ctx, name, &oss.HeapOptions{Replicas: min(3, len(c.Nodes))})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Name(i), err)
		}
		hs[i] = h
	}
	return hs, nil
}

// Kill closes node i at once, as a crash would for its peers: no hand-over,
// no leave.
func (c *Cluster) Kill(i int) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Nodes[i].Close(ctx)
	c.Nodes[i] = nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Restart starts node i again, on its address and its data directory.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	if c.Nodes[i] != nil {
		return fmt.Errorf("%s is running", Name(i))
	}
	return c.start(ctx, i, c.addrs[i])
}

// Partition cuts the links between the groups of nodes (by index); a
// node in no group is cut off from all. Heal with Partition(all nodes).
// It needs Options.Relays.
func (c *Cluster) Partition(groups ...[]int) {
	group := map[int]int{}
	for g, ns := range groups {
		for _, i := range ns {
			group[i] = g + 1
		}
	}
	for i, r := range c.relays {
		var cut []string
		for j := range c.relays {
			if j != i && (group[i] == 0 || group[i] != group[j]) {
				cut = append(cut, c.addrs[j])
			}
		}
		r.block(cut)
	}
}

// Close closes every live node, at once if ctx ends.
func (c *Cluster) Close(ctx context.Context) error {
	var first error
	for i := len(c.Nodes) - 1; i >= 0; i-- {
		if n := c.Nodes[i]; n != nil {
			if err := n.Close(ctx); err != nil && first == nil {
				first = err
			}
			c.Nodes[i] = nil
		}
	}
	for _, r := range c.relays {
		r.close()
	}
	return first
}
