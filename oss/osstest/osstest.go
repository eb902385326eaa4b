// Package osstest runs clusters of OSS nodes inside a test process, for
// tests of oss and of applications built on it.
//
// # Overview
//
// Start starts N nodes on an in-memory network (transport/transporttest):
// the first bootstraps a cluster, the others join it. The network is
// seeded, can be partitioned and healed, and can drop, delay, duplicate
// and reorder messages (Cluster.Net). Nodes can be killed as a crash
// would stop them and restarted on their data directories, which live
// under t.TempDir(). With Options.QUIC the nodes run on QUIC over
// loopback with mutual TLS instead, as in production; partitions then
// are not available.
//
// The Wait methods wait for a condition of the cluster (a leader, an
// applied index, replicas that agree), checking it as the cluster
// changes; none of them sleeps for a fixed time, and each fails the
// test with what it was waiting for if the condition does not hold in
// time (Options.Patience).
//
// A cluster on the in-memory network can run inside a testing/synctest
// bubble (Start called in the bubble's function): every clock of its
// nodes is then fake, and a timeout of seconds (Config.ReplaceAfter, a
// lease) passes as soon as every node waits. QUIC clusters cannot: a
// goroutine reading a socket never counts as waiting.
//
// The in-memory network authenticates nobody: it is for tests only.
// Package oss/ossdtest runs ossd processes instead, for tests of the
// daemon.
//
// # Usage
//
//	func TestFailover(t *testing.T) {
//		t.Parallel()
//		c := osstest.Start(t, 3, nil)
//		h := c.Heap("n1", "bank")
//		leader := c.WaitLeader("bank")
//		c.Kill(leader)
//		c.WaitLeader("bank")
//		...
//	}
//
// The cluster closes itself when the test ends (t.Cleanup), every node
// and every goroutine it started, so a goleak check registered before
// Start (cleanups run last registered first) sees none of them.
package osstest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
)

// Options configure a Cluster. A nil *Options means the defaults.
type Options struct {
	// Seed seeds the in-memory network's randomness (drops, delays). If
	// zero, one is drawn; a failed test logs it, and setting it replays
	// the network's choices (the nodes' own timing still varies).
	Seed uint64
	// Durable gives every node a data directory under t.TempDir(), with
	// the default durability (a sync before every acknowledgement). If
	// false, nodes keep nothing on disk and Restart starts a new member.
	Durable bool
	// QUIC runs the nodes on QUIC over loopback, with mutual TLS and
	// gossip, instead of the in-memory network.
	QUIC bool
	// FollowPartitions makes membership follow partitions on the
	// in-memory network: a node cut off is missing from the others' live
	// sets and they from its, as a failure detector would find, so
	// leaders replace it after Config.ReplaceAfter. If false, partitions
	// cut messages only.
	FollowPartitions bool
	// Configure, if not nil, changes each node's configuration before it
	// starts (Name, DataDir and the network are set already).
	Configure func(name string, cfg *oss.Config)
	// Wrap, if not nil, stands between each node and its endpoint on the
	// in-memory network: a transport that injects faults of its own.
	Wrap func(name string, tr transport.Transport) transport.Transport
	// Patience bounds every wait, and every start and open of a heap. If
	// zero, five minutes, as Recv: a bound against a hang, far over what
	// a start, an election or a commit takes on a loaded machine (at load
	// 40 on two cores the race detector's tests wait for a processor 5 to
	// 30 times as long as they run), so a test fails only when what it
	// awaits does not come.
	Patience time.Duration
}

// Cluster is a set of nodes started by Start. Its methods are for the
// test's goroutine, except where they say otherwise.
type Cluster struct {
	t    testing.TB
	opts Options
	// Net is the in-memory network, for faults beyond Partition and Heal
	// (SetFaults, Cut); nil with Options.QUIC.
	Net *transporttest.Network
	ca  struct{ cert, key []byte } // with QUIC

	mu     sync.Mutex // protects following fields; Wrap runs under it
	nodes  map[string]*oss.Node
	eps    map[string]transport.Transport // with the in-memory network
	heaps  map[string]map[string]*oss.Heap
	names  []string // every node ever started, in order
	dir    string   // the data directories', with Options.Durable
	closed bool
}

// Start starts n nodes, named n1 to nN, and fails the test if one does
// not start. The cluster closes when the test ends.
func Start(t testing.TB, n int, opts *Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, nodes: map[string]*oss.Node{}, eps: map[string]transport.Transport{}, heaps: map[string]map[string]*oss.Heap{}}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Patience == 0 {
		c.opts.Patience = 5 * time.Minute
	}
	if c.opts.QUIC {
		cert, key, err := pki.NewCA("osstest", time.Hour)
		if err != nil {
			t.Fatalf("osstest: %v", err)
		}
		c.ca.cert, c.ca.key = cert, key
	} else {
		if c.opts.Seed == 0 {
			c.opts.Seed = rand.Uint64()
		}
		c.Net = transporttest.NewNetwork(c.opts.Seed)
		c.Net.FollowPartitions(c.opts.FollowPartitions)
		c.Net.Start()
	}
	if c.opts.Durable {
		// Before the cleanup that closes the cluster: cleanups run last
		// registered first, and TempDir's removal must not run under
		// nodes still writing their checkpoints.
		c.dir = t.TempDir()
	}
	t.Cleanup(func() {
		if t.Failed() && !c.opts.QUIC {
			t.Logf("osstest: the network's seed was %d (Options.Seed)", c.opts.Seed)
		}
		c.Close()
	})
	for i := range n {
		c.Add(fmt.Sprintf("n%d", i+1))
	}
	return c
}

// Add starts one more node, which joins the cluster (or bootstraps it
// if it is the first), and returns it.
func (c *Cluster) Add(name string) *oss.Node {
	c.t.Helper()
	c.mu.Lock()
	if !slices.Contains(c.names, name) {
		c.names = append(c.names, name)
	}
	c.mu.Unlock()
	return c.start(name)
}

func (c *Cluster) start(name string) *oss.Node {
	c.t.Helper()
	n, err := c.tryStart(name)
	if err != nil {
		c.t.Fatalf("osstest: start %s: %v", name, err)
	}
	return n
}

func (c *Cluster) tryStart(name string) (*oss.Node, error) {
	c.t.Helper()
	cfg := &oss.Config{Name: name, TickInterval: 10 * time.Millisecond, ReplaceAfter: 300 * time.Millisecond, Logger: logger(c.t, name)}
	if c.opts.Durable {
		cfg.DataDir = c.dataDir(name)
	}
	var join []string
	for _, other := range c.Live() {
		if other != name {
			join = append(join, other)
		}
	}
	if c.opts.QUIC {
		cert, key, err := pki.IssueCert(c.ca.cert, c.ca.key, name, pki.RoleServer, time.Hour)
		if err != nil {
			c.t.Fatalf("osstest: %v", err)
		}
		cfg.Listen, cfg.Gossip = "127.0.0.1:0", oss.GossipLoopback
		cfg.TLS = &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.ca.cert}
		cfg.TickInterval = 20 * time.Millisecond
		cfg.ReplaceAfter = time.Second
		for i, other := range join {
			join[i] = c.Node(other).Addr()
		}
	} else {
		cfg.Transport = network{c.Net, c}
	}
	cfg.Join = join
	if c.opts.Configure != nil {
		c.opts.Configure(name, cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Patience)
	defer cancel()
	n, err := oss.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nodes[name] = n
	c.heaps[name] = map[string]*oss.Heap{}
	c.mu.Unlock()
	return n, nil
}

// dataDir is the node's data directory, the same across restarts.
func (c *Cluster) dataDir(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return filepath.Join(c.dir, name)
}

// network attaches the cluster's nodes to its in-memory network, through
// Options.Wrap, and keeps their endpoints so that Kill can cut them off.
type network struct {
	*transporttest.Network
	c *Cluster
}

func (nw network) Attach(name string, h transport.Handler) (transport.Transport, error) {
	var tr transport.Transport = nw.Endpoint(name, h)
	c := nw.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.Wrap != nil {
		tr = c.opts.Wrap(name, tr)
	}
	c.eps[name] = tr
	return tr, nil
}

// Node returns the running node of that name; it fails the test if none
// runs.
func (c *Cluster) Node(name string) *oss.Node {
	c.t.Helper()
	c.mu.Lock()
	n := c.nodes[name]
	c.mu.Unlock()
	if n == nil {
		c.t.Fatalf("osstest: no node %s runs", name)
	}
	return n
}

// Live returns the names of the running nodes, in the order they were
// first started.
func (c *Cluster) Live() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, name := range c.names {
		if c.nodes[name] != nil {
			out = append(out, name)
		}
	}
	return out
}

// Heap opens the heap on the named node, creating it if it does not
// exist, and returns the handle (the same one again on later calls, until
// the node is killed or restarted).
func (c *Cluster) Heap(node, heap string) *oss.Heap {
	c.t.Helper()
	n := c.Node(node)
	c.mu.Lock()
	h := c.heaps[node][heap]
	c.mu.Unlock()
	if h != nil {
		return h
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Patience)
	defer cancel()
	h, err := n.CreateHeapIfNotExists(ctx, heap, nil)
	if err != nil {
		c.t.Fatalf("osstest: %s: open %s: %v", node, heap, err)
	}
	c.mu.Lock()
	c.heaps[node][heap] = h
	c.mu.Unlock()
	return h
}

// Heaps returns the handles on the heap opened through Heap on the
// running nodes, by node.
func (c *Cluster) Heaps(heap string) map[string]*oss.Heap {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*oss.Heap{}
	for node, hs := range c.heaps {
		if h := hs[heap]; h != nil && c.nodes[node] != nil {
			out[node] = h
		}
	}
	return out
}

// Wait waits until cond holds, checking it every few milliseconds, and
// fails the test, saying what it waited for, if it does not hold within
// Options.Patience. It is the test's condition, not a sleep, that ends
// the wait.
func (c *Cluster) Wait(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(c.opts.Patience)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("osstest: timed out after %v waiting for %s", c.opts.Patience, what)
		}
		<-tick.C
	}
}

// WaitLeader waits until every replica of the heap opened through Heap
// on a running node names the same leader, a running node that leads,
// and returns its name.
func (c *Cluster) WaitLeader(heap string) string {
	c.t.Helper()
	var leader string
	c.Wait("a leader of "+heap+" that every replica knows", func() bool {
		leader = c.leaderOf(heap)
		return leader != ""
	})
	return leader
}

func (c *Cluster) leaderOf(heap string) string {
	hs := c.Heaps(heap)
	if len(hs) == 0 {
		return ""
	}
	var leader string
	for _, h := range hs {
		l := h.Stats().Leader
		if l == "" || leader != "" && l != leader {
			return ""
		}
		leader = l
	}
	if lh := hs[leader]; lh == nil || lh.Stats().Leader != leader {
		return "" // the leader's own replica is not among them, or disagrees
	}
	return leader
}

// WaitApplied waits until every replica of the heap opened through Heap
// on a running node has applied index.
func (c *Cluster) WaitApplied(heap string, index uint64) {
	c.t.Helper()
	c.Wait(fmt.Sprintf("every replica of %s to apply %d", heap, index), func() bool {
		for _, h := range c.Heaps(heap) {
			if h.Stats().Applied < index {
				return false
			}
		}
		return true
	})
}

// WaitConverged waits until every replica of the heap opened through Heap
// on a running node holds the same state at the same index, and returns
// that index.
func (c *Cluster) WaitConverged(heap string) uint64 {
	c.t.Helper()
	var at uint64
	c.Wait("the replicas of "+heap+" to converge", func() bool {
		first := true
		var digest [32]byte
		for _, h := range c.Heaps(heap) {
			i, d := h.Digest()
			if first {
				at, digest, first = i, d, false
			} else if i != at || d != digest {
				return false
			}
		}
		return !first
	})
	return at
}

// Partition splits the in-memory network into groups of nodes that cannot
// reach each other; nodes in no group form one more.
func (c *Cluster) Partition(groups ...[]string) {
	c.t.Helper()
	c.needNet("Partition")
	c.Net.Partition(groups...)
}

// Heal ends every partition and cut.
func (c *Cluster) Heal() {
	c.t.Helper()
	c.needNet("Heal")
	c.Net.Heal()
}

func (c *Cluster) needNet(what string) {
	c.t.Helper()
	if c.Net == nil {
		c.t.Fatalf("osstest: %s needs the in-memory network, not Options.QUIC", what)
	}
}

// Kill stops the node as a crash would: it is cut off from the network at
// once and closed without handing anything over or saying goodbye. What
// it acknowledged is on its disk (Options.Durable), as after a process
// crash.
func (c *Cluster) Kill(name string) {
	c.t.Helper()
	n := c.Node(name)
	c.mu.Lock()
	ep := c.eps[name]
	delete(c.nodes, name)
	delete(c.heaps, name)
	c.mu.Unlock()
	if ep != nil {
		ep.Close()
	}
	crash(n)
}

// crash closes a node with a context that has ended: no hand-over, no
// leave.
func crash(n *oss.Node) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Close(ctx) // reports the cut-short hand-over, which is the point
}

// Restart starts a node that was killed again, on its data directory, and
// returns it; its heaps are opened again through Heap.
func (c *Cluster) Restart(name string) *oss.Node {
	c.t.Helper()
	n, err := c.TryRestart(name)
	if err != nil {
		c.t.Fatalf("osstest: start %s: %v", name, err)
	}
	return n
}

// TryRestart starts a killed node again on its data directory, as
// Restart does, and returns Start's error rather than failing the test:
// for a node whose data directory was damaged on purpose.
func (c *Cluster) TryRestart(name string) (*oss.Node, error) {
	c.t.Helper()
	c.mu.Lock()
	running := c.nodes[name] != nil
	c.mu.Unlock()
	if running {
		c.t.Fatalf("osstest: restart %s: it runs", name)
	}
	return c.tryStart(name)
}

// Close closes every node at once, as Kill does (a graceful close would
// wait for hand-overs), and stops the network. It is idempotent, and
// called when the test ends.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	nodes := slices.Collect(maps.Values(c.nodes))
	clear(c.nodes)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { crash(n) })
	}
	wg.Wait()
	if c.Net != nil {
		c.Net.Stop()
	}
}

// logger discards the nodes' logs unless OSS_TEST_LOG is set.
func logger(t testing.TB, name string) *slog.Logger {
	if os.Getenv("OSS_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name(), "node", name)
}

// Recv receives from ch for a test. If nothing comes within five minutes
// (far over anything a test waits for on a loaded machine, well under go
// test's usual -timeout) it fails the test naming what it awaited,
// instead of hanging until -timeout stops the whole package with no word
// of what was awaited. It must be called from the test's goroutine, as
// t.Fatal must.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	const deadline = 5 * time.Minute
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %v for %s", deadline, what)
	}
	var zero T
	return zero
}
