package oss

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
)

// testDir is membership for nodes on transporttest: the nodes that are
// running.
type testDir struct {
	mu    sync.Mutex
	nodes map[string]*Node
}

func (d *testDir) live() []peerInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []peerInfo
	for _, n := range d.nodes {
		if !n.isClosed() {
			out = append(out, n.selfInfo())
		}
	}
	return out
}

func testLogger() *slog.Logger {
	if os.Getenv("OSS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startTestNodes starts nodes on an in-memory network: the first
// bootstraps a cluster, the others join it.
func startTestNodes(t *testing.T, seed uint64, names ...string) *testCluster {
	c := &testCluster{t: t, net: transporttest.NewNetwork(seed), nodes: map[string]*Node{}, heaps: map[string]*Heap{},
		eps: map[string]*transporttest.Endpoint{}, dir: &testDir{nodes: map[string]*Node{}}}
	c.net.Start()
	for i, name := range names {
		c.add(name, i > 0, nil)
	}
	t.Cleanup(func() {
		for name := range c.nodes {
			c.kill(name)
		}
		c.net.Stop()
	})
	return c
}

// add starts a node; tweak may change its configuration.
func (c *testCluster) add(name string, join bool, tweak func(*Config)) *Node {
	c.t.Helper()
	cfg := &Config{Name: name, TickInterval: 10 * time.Millisecond, ReplaceAfter: 300 * time.Millisecond, Logger: testLogger().With("test", c.t.Name())}
	if tweak != nil {
		tweak(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := start(ctx, cfg, &netHooks{
		transport: func(hd transport.Handler) transport.Transport {
			ep := c.net.Endpoint(name, hd)
			c.eps[name] = ep
			return ep
		},
		dir:  c.dir,
		join: join,
	})
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	c.dir.mu.Lock()
	c.dir.nodes[name] = n
	c.dir.mu.Unlock()
	c.nodes[name] = n
	return n
}

// kill stops a node as a crash would: no hand-over, no goodbye.
func (c *testCluster) kill(name string) {
	c.eps[name].Close()
	c.nodes[name].stop(false)
	c.forget(name)
}

// leave closes a node gracefully.
func (c *testCluster) leave(name string) {
	if err := c.nodes[name].Close(); err != nil {
		c.t.Errorf("close %s: %v", name, err)
	}
	c.forget(name)
}

func (c *testCluster) forget(name string) {
	c.dir.mu.Lock()
	delete(c.dir.nodes, name)
	c.dir.mu.Unlock()
	delete(c.nodes, name)
	delete(c.heaps, name)
}
