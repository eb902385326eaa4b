package oss

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// lateConn is a UDP socket bound later: a node started on it reads
// nothing and its writes go nowhere until attach gives it the socket,
// which may only be bound once another node has let go of the address.
// It lets a node be fully started before it answers at an address.
type lateConn struct {
	local net.Addr
	ready chan struct{} // closed by attach
	pc    net.PacketConn

	mu       sync.Mutex
	deadline time.Time
	kick     chan struct{} // closed when the deadline changes or the socket closes
	closed   bool
}

func newLateConn(local string) (*lateConn, error) {
	ua, err := net.ResolveUDPAddr("udp", local)
	if err != nil {
		return nil, err
	}
	return &lateConn{local: ua, ready: make(chan struct{}), kick: make(chan struct{})}, nil
}

func (c *lateConn) attach(pc net.PacketConn) {
	c.mu.Lock()
	c.pc = pc
	pc.SetReadDeadline(c.deadline)
	c.mu.Unlock()
	close(c.ready)
}

func (c *lateConn) attached() (net.PacketConn, bool) {
	select {
	case <-c.ready:
		return c.pc, true
	default:
		return nil, false
	}
}

func (c *lateConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		if pc, ok := c.attached(); ok {
			return pc.ReadFrom(b)
		}
		c.mu.Lock()
		d, kick, closed := c.deadline, c.kick, c.closed
		c.mu.Unlock()
		if closed {
			return 0, nil, net.ErrClosed
		}
		var expired <-chan time.Time
		if !d.IsZero() {
			wait := time.Until(d)
			if wait <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer := time.NewTimer(wait)
			expired = timer.C
			defer timer.Stop()
		}
		select {
		case <-c.ready:
		case <-kick:
		case <-expired:
			return 0, nil, os.ErrDeadlineExceeded
		}
	}
}

func (c *lateConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if pc, ok := c.attached(); ok {
		return pc.WriteTo(b, addr)
	}
	return len(b), nil // lost, as on a network that does not reach the node yet
}

func (c *lateConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.kick)
	}
	c.mu.Unlock()
	if pc, ok := c.attached(); ok {
		return pc.Close()
	}
	return nil
}

func (c *lateConn) LocalAddr() net.Addr { return c.local }

func (c *lateConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *lateConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if !c.closed {
		close(c.kick)
		c.kick = make(chan struct{})
	}
	if pc, ok := c.attached(); ok {
		return pc.SetReadDeadline(t)
	}
	return nil
}

func (c *lateConn) SetWriteDeadline(time.Time) error { return nil }
func (c *lateConn) SetReadBuffer(int) error          { return nil }
func (c *lateConn) SetWriteBuffer(int) error         { return nil }

// Two clusters from one CA share a name. X's b stops, and a node b of
// cluster Y answers at its address at once, before a probe of X's b has
// failed: Y's b acked X's probes of b there (memberlist takes an ack by
// its sequence number alone), so X held b live at its old address for as
// long as Y's b ran, and X's b, started again on its data directory at
// another address, was a "Conflicting address" never taken: raft for b
// went to Y's b, and b's start waited for its catalog to hear a leader.
// Gossip now stays within a group: X's members take no probe, ack or
// push of Y's b, b's record at the old address dies, and X's b is taken
// at its new one.
func TestAnotherClustersNodeAtTheOldAddressKeepsNoMemberOut(t *testing.T) {
	t.Parallel()
	// Probes that outlast a handshake on a loaded machine: X's members
	// dial b's old address afresh once X's b is gone, and a probe whose
	// ack came later than GossipLoopback's 150 ms failed before Y's b
	// could ack it, which kept nobody out.
	c := newDurableQUICWith(t, func(cfg *Config) {
		cfg.tuneGossip = func(mc *memberlist.Config) {
			mc.ProbeInterval, mc.ProbeTimeout, mc.SuspicionMult = 1500*time.Millisecond, time.Second, 3
		}
	}, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*await.Deadline)
	defer cancel()
	a, cn := c.nodes["a"], c.nodes["c"]
	if _, err := c.nodes["b"].CreateHeap(ctx, "moved", &HeapOptions{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	old := c.addrs["b"]
	// Y's b, started in full before it may bind b's address.
	late, err := newLateConn(old)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Start(ctx, &Config{Name: "b", Listen: old, PacketConn: late, Gossip: GossipLoopback, TLS: c.tls["b"],
		DataDir: filepath.Join(t.TempDir(), "b"), Durability: DurabilityBatch,
		ReplaceAfter: time.Minute, Logger: testLogger().With("test", t.Name(), "cluster", "Y")})
	if err != nil {
		late.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		y.Close(context.Background())
		late.Close()
	})
	if y.ClusterID() == a.ClusterID() {
		t.Fatalf("the other b took cluster %016x, X's", y.ClusterID())
	}
	c.kill("b")
	pc, err := net.ListenPacket("udp", old)
	if err != nil {
		t.Fatal(err)
	}
	late.attach(pc)
	// a and c reach "b" at its old address: Y's b.
	req, err := codec.Marshal(callRequest{Op: opStatus})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []*Node{a, cn} {
		if _, err := from.tr.Call(ctx, "b", req); err != nil {
			t.Fatalf("%s's call to b at %s: %v", from.Name(), old, err)
		}
	}

	c.addrs["b"] = "" // a new address
	if err := c.start("b"); err != nil {
		t.Fatalf("X's b, started again at a new address: %v", err)
	}
	b := c.nodes["b"]
	await.Until(t, "X's b at its new address in a's and c's view", func() bool {
		return memberAt(a, "b", b.Addr()) && memberAt(cn, "b", b.Addr())
	})
	h, err := b.Heap(ctx, "moved")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, uuid.New(), "back") }); err != nil {
		t.Fatalf("a commit through X's b at its new address: %v", err)
	}
	if st := y.catalog.Load().Stats(); len(st.Voters) != 1 || len(st.Learners) != 0 {
		t.Fatalf("Y's b's catalog: voters %v, learners %v; want b alone", st.Voters, st.Learners)
	}
}
