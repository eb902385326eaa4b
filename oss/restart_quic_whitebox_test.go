package oss

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// durableQUIC is a cluster of durable nodes on loopback QUIC that keep
// their names, keys, addresses and data directories across restarts.
type durableQUIC struct {
	t      testing.TB
	dir    string
	caCert []byte
	caKey  []byte
	tls    map[string]*TLSConfig
	addrs  map[string]string
	nodes  map[string]*Node
	order  []string
	tune   func(*Config) // if not nil, changes each node's configuration at its start
}

func newDurableQUIC(t testing.TB, names ...string) *durableQUIC {
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &durableQUIC{t: t, dir: t.TempDir(), caCert: caCert, caKey: caKey,
		tls: map[string]*TLSConfig{}, addrs: map[string]string{}, nodes: map[string]*Node{}}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop(context.Background(), false)
		}
	})
	for _, name := range names {
		if err := c.start(name); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
	}
	return c
}

func (c *durableQUIC) start(name string) error {
	if c.tls[name] == nil {
		cert, key, err := pki.IssueCert(c.caCert, c.caKey, name, pki.RoleServer, time.Hour)
		if err != nil {
			return err
		}
		c.tls[name] = &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}
		c.order = append(c.order, name)
	}
	listen := c.addrs[name]
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	cfg := &Config{Name: name, Listen: listen, Gossip: GossipLoopback, TLS: c.tls[name],
		DataDir: filepath.Join(c.dir, name), Durability: DurabilityBatch,
		ReplaceAfter: time.Minute, Logger: testLogger().With("test", c.t.Name())}
	if c.tune != nil {
		c.tune(cfg)
	}
	for _, other := range c.order {
		if n := c.nodes[other]; n != nil && other != name {
			cfg.Join = append(cfg.Join, n.Addr())
		}
	}
	// A bound against a hang: a joining node's catalog catches up
	// through its leader's read index, which took more than 30 s at load
	// 35 ("leader a in reach, no answer yet"), and a join's one round of
	// membership's exchange ran out at load 38 ("no member answered").
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	n, err := startJoining(ctx, c.t, cfg)
	if err != nil {
		return err
	}
	c.nodes[name], c.addrs[name] = n, n.Addr()
	return nil
}

// kill closes a node as cluster.Kill does: at once, no hand-over.
func (c *durableQUIC) kill(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.nodes[name].Close(ctx)
	delete(c.nodes, name)
}

// TestRestartUnderLoadCommitsSoon kills one node of three under a
// workload on every node and restarts it on its data directory: it must
// open its heap and commit, never failing with ErrNoQuorum once the
// cluster is whole, and the time to its first commit is logged. One
// round by default; with OSS_LONG=1, 10 rounds with the CPU starved
// (OSS_RESTART_ROUNDS and OSS_RESTART_STARVE=1 set them apart).
func TestRestartUnderLoadCommitsSoon(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rounds, starve := 1, false
	if os.Getenv("OSS_LONG") != "" {
		rounds, starve = 10, true
	}
	if n, err := strconv.Atoi(os.Getenv("OSS_RESTART_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	if starve || os.Getenv("OSS_RESTART_STARVE") != "" {
		starveCPU(t)
	}
	c := newDurableQUIC(t, "a", "b", "c")
	ctx := context.Background()
	heaps := map[string]*Heap{}
	var mu sync.Mutex
	for _, name := range c.order {
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		h, err := c.nodes[name].CreateHeapIfNotExists(octx, "bank", &HeapOptions{Replicas: 3})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		heaps[name] = h
	}
	ids := seedBank(t, heaps["a"])
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			name := c.order[w%3]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				h := heaps[name]
				mu.Unlock()
				if h == nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				transfer(ctx, h, ids[i%8], ids[(i+w+1)%8], 1)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	victim := "c"
	for r := range rounds {
		time.Sleep(time.Second)
		mu.Lock()
		heaps[victim] = nil
		mu.Unlock()
		c.kill(victim)
		time.Sleep(500 * time.Millisecond)
		t0 := time.Now()
		if err := c.start(victim); err != nil {
			t.Fatalf("round %d: restart: %v", r, err)
		}
		started := time.Since(t0)
		n := c.nodes[victim]
		var h *Heap
		var firstErr error
		for {
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var err error
			h, err = n.CreateHeapIfNotExists(octx, "bank", nil)
			cancel()
			if err == nil {
				break
			}
			if firstErr == nil {
				firstErr = err
				s := n.replicaOf("bank").Stats()
				t.Logf("round %d: open failed after %v: %v; stats %+v", r, time.Since(t0), err, s)
			}
			if time.Since(t0) > 3*time.Minute {
				t.Fatalf("round %d: no open after 3 min: %v", r, err)
			}
		}
		opened := time.Since(t0)
		for {
			err := transfer(ctx, h, ids[0], ids[1], 1)
			if err == nil {
				break
			}
			if firstErr == nil {
				firstErr = err
				t.Logf("round %d: commit failed after %v: %v; stats %+v", r, time.Since(t0), err, h.Stats())
			}
			if time.Since(t0) > 3*time.Minute {
				t.Fatalf("round %d: no commit after 3 min: %v", r, err)
			}
		}
		mu.Lock()
		heaps[victim] = h
		mu.Unlock()
		fmt.Fprintf(os.Stderr, "round %d: started %v, opened %v, committed %v, first error %v\n", r, started, opened, time.Since(t0), firstErr)
		if errors.Is(firstErr, ErrNoQuorum) {
			t.Errorf("round %d: %v", r, firstErr)
		}
	}
}
