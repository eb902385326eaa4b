package oss

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport/transporttest"
)

// staleDirectory is a node's directory that still lists a node after
// it stopped, while on holds: membership that has not yet noticed a
// crash (under load it takes longer than a restart elsewhere).
type staleDirectory struct {
	directory
	gone peerInfo
	on   *atomic.Bool
}

func (d staleDirectory) live() []peerInfo {
	out := d.directory.live()
	if d.on.Load() {
		out = append(out, d.gone)
	}
	return out
}

// clientP is the client "p" of a cluster's CA, started at a socket of
// its own.
type clientP struct {
	n  *Node
	fc *transporttest.FaultConn
	// cfg is p's configuration listening at listen.
	cfg func(listen string) *Config
}

func startClientP(t *testing.T, ctx context.Context, c *durableQUIC) *clientP {
	t.Helper()
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, "p", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tc := &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}
	p := &clientP{cfg: func(listen string) *Config {
		return &Config{Name: "p", Role: pki.RoleClient, TLS: tc, Listen: listen, Join: []string{c.addrs["a"]},
			Gossip: GossipLoopback, Logger: testLogger().With("test", t.Name())}
	}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.fc = transporttest.NewFaultConn(pc, 1)
	first := p.cfg(pc.LocalAddr().String())
	first.PacketConn = p.fc
	// The tests begin with p running: under load a single attempt to
	// join the membership can time out.
	first.JoinRetry = true
	if p.n, err = Start(ctx, first); err != nil {
		p.fc.Close()
		t.Fatal(err)
	}
	return p
}

// crash stops p as a crash would: no hand-over, no leave, so that its
// peers' membership finds it dead only by failing to reach it. Its
// connections' closes still reach them: their transports hold no live
// connection of the old p that a new one's must wait for
// (transport.QUIC.checkUnique, up to 2 s).
func (p *clientP) crash() {
	p.n.stop(context.Background(), false)
	p.fc.Close()
}

// catalogLeaderWith waits for a server leading the catalog that has
// applied p's record under p's raft ID.
func catalogLeaderWith(t *testing.T, c *durableQUIC, p *Node) *Node {
	t.Helper()
	var leader *Node
	await.Until(t, "a leader of the catalog that has p's record", func() bool {
		for _, n := range c.nodes {
			if h := n.catalog.Load(); h != nil && h.leaderIs(n.id) && n.committed().recs["p"].ID == p.id {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

// A client crashed and started again at another port while the
// catalog's leader's membership still lists it live (under load
// membership takes longer to find it dead than the restart takes) is not
// refused for good: the old process no longer answers at its address, so
// the refusal says to try again, and the restart starts once membership
// catches up. The servers' directories list the old p, at the address
// membership held for it, until the test lets them go (staleDirectory):
// first for a join the test asks of the leader itself, then for the
// restart's own until it is refused once or its Start returns.
// Until 2026-12-06 membership's view alone decided, and the restart was
// refused for good as a second live node of its name (design.md, "Flakes
// under load, 2026-12-06 (evening)").
func TestJoinWhileMembershipListsACrashedNodeIsNotFinal(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startClientP(t, ctx, c)
	await.Until(t, "p in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.n.Addr()) })
	leader := catalogLeaderWith(t, c, p.n)
	old, oldAddr := p.n.id, p.n.Addr()
	stale := listStale(t, c, p)
	p.crash()

	// The race, every time: the leader lists the old p, which is gone.
	final, err := leader.admitJoin(ctx, leader.catalog.Load(), "p", &callRequest{Op: opJoin, Heap: catalogName, ID: old + 1, Addr: "127.0.0.1:9"})
	if err == nil || final || errors.Is(err, ErrJoinRefused) {
		t.Fatalf("a join of p from elsewhere while the stopped p at %s is still listed live: final %v, %v; want a refusal to try again", oldAddr, final, err)
	}
	t.Logf("refused, not for good: %v", err)

	// p started again at another port.
	refused := restartWhileListed(t, ctx, c, p, stale, "127.0.0.1:0")
	t.Logf("the restart's join refused on the way: %v", refused)
	await.Until(t, "p at its new address in every server's view", func() bool {
		for _, n := range c.nodes {
			if !memberAt(n, "p", p.n.Addr()) {
				return false
			}
		}
		return true
	})
}

// listStale makes every server's directory list p's process as it runs
// now, at the address membership holds for it, while the flag it returns
// holds (set): membership that has not yet noticed p's crash.
func listStale(t *testing.T, c *durableQUIC, p *clientP) *atomic.Bool {
	t.Helper()
	stale := &atomic.Bool{}
	stale.Store(true)
	gone := peerInfo{Name: "p", ID: p.n.id, Role: pki.RoleClient, At: p.n.Addr()}
	for _, n := range c.nodes {
		inner := n.directory()
		n.setDirectory(staleDirectory{directory: inner, gone: gone, on: stale})
		t.Cleanup(func() { n.setDirectory(inner) })
	}
	return stale
}

// restartWhileListed starts p again at listen, with JoinRetry, while the
// servers list its crashed process (stale), and stops that listing once
// a server refused the new process's join or Start returned, whichever
// comes first; it fails the test if Start does, and waits for p's record
// under the new raft ID on every server. It returns whether a join of p
// was refused on the way. A restart the leader can tell apart from the
// old process at once (it answers at the listed address, or membership
// found the old one dead first) is admitted with no refusal: a wait for
// one waited out the test's context (5 min) under load.
func restartWhileListed(t *testing.T, ctx context.Context, c *durableQUIC, p *clientP, stale *atomic.Bool, listen string) (refused bool) {
	t.Helper()
	started, lifted := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(lifted)
		defer stale.Store(false)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !joinRefusedOnAny(c, "p") {
			select {
			case <-started:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	cfg := p.cfg(listen)
	cfg.JoinRetry = true
	old := p.n.id
	n, err := Start(ctx, cfg)
	close(started)
	<-lifted
	if err != nil {
		t.Fatalf("p, started again at %s: %v", listen, err)
	}
	p.n = n
	t.Cleanup(func() { n.Close(context.Background()) })
	if n.id == old {
		t.Fatalf("p started again without its data under its old raft ID %016x", old)
	}
	refused = joinRefusedOnAny(c, "p")
	await.Until(t, "p's record under its new raft ID on every server", func() bool {
		for _, s := range c.nodes {
			if s.committed().recs["p"].ID != n.id {
				return false
			}
		}
		return true
	})
	return refused
}

// joinRefusedOnAny reports whether a server refused a join of name to
// the catalog.
func joinRefusedOnAny(c *durableQUIC, name string) bool {
	for _, n := range c.nodes {
		l := &n.joinRefusals
		l.mu.Lock()
		_, ok := l.last[refusalKey{catalogName, name}]
		l.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// A second process of a live client's name, joining from another address
// while the first still answers at its own, is refused for good, saying
// so, and does not take the name: the check that the listed node still
// answers (stillAnswers) lets only a node that no longer does be joined
// again under its name.
func TestSecondProcessOfALiveAnsweringNameIsRefusedForGood(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startClientP(t, ctx, c)
	t.Cleanup(func() { p.n.Close(context.Background()) })
	await.Until(t, "p in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.n.Addr()) })
	leader := catalogLeaderWith(t, c, p.n)

	// Under load the leader's ping of p can go unanswered in time, and
	// the join is told to try again (unansweredInTime): asked again.
	final, err := admitJoinAnswered(t, ctx, leader, "p", &callRequest{Op: opJoin, Heap: catalogName, ID: p.n.id + 1, Addr: "127.0.0.1:9"})
	if !final || !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), `a node named "p" is already live`) {
		t.Fatalf("a join of p from elsewhere while p answers at %s: final %v, %v; want refused for good as already live", p.n.Addr(), final, err)
	}

	// Started for real: refused by the catalog's leader, or before, by a
	// server's transport, which holds a live connection of p's.
	dup, err := startAnswered(t, ctx, func() *Config { return p.cfg("127.0.0.1:0") })
	if err == nil {
		dup.Close(context.Background())
		t.Fatal("a second process named p started beside the live one")
	}
	if !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), `a node named "p" is already live`) && !strings.Contains(err.Error(), `node "p" is connected from`) {
		t.Fatalf("the second p: %v; want refused for good as already live", err)
	}
	for _, n := range c.nodes {
		if rec := n.committed().recs["p"]; rec.ID != p.n.id {
			t.Fatalf("%s: p's record names raft ID %016x, the live p runs %016x", n.cfg.Name, rec.ID, p.n.id)
		}
	}
}
