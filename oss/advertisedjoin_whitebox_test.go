package oss

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport/transporttest"
)

// advertisedP is the client "p" of a cluster's CA listening on every
// address at one port and advertising the loopback address at it, as a
// node behind --listen 0.0.0.0:PORT --advertise HOST:PORT does.
type advertisedP struct {
	n              *Node
	fc             *transporttest.FaultConn
	listen, advert string
	tls            *TLSConfig
	join           []string
}

func startAdvertisedP(t *testing.T, ctx context.Context, c *durableQUIC) *advertisedP {
	t.Helper()
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, "p", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	p := &advertisedP{listen: "0.0.0.0:" + port, advert: "127.0.0.1:" + port,
		tls: &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}}
	for _, name := range c.order {
		p.join = append(p.join, c.addrs[name])
	}
	p.fc = transporttest.NewFaultConn(pc, 1)
	first := p.cfg(t, p.listen, p.advert)
	first.PacketConn = p.fc
	// p's first start is set-up, not what the tests check: under load one
	// join attempt can time out before a member answers.
	first.JoinRetry = true
	if p.n, err = Start(ctx, first); err != nil {
		p.fc.Close()
		t.Fatal(err)
	}
	return p
}

// cfg is p's configuration listening at listen, advertising advert.
func (p *advertisedP) cfg(t *testing.T, listen, advert string) *Config {
	return &Config{Name: "p", Role: pki.RoleClient, TLS: p.tls, Listen: listen, Advertise: advert,
		Join: p.join, Gossip: GossipLoopback, Logger: testLogger().With("test", t.Name())}
}

// A client listening on every address and advertising 127.0.0.1, crashed
// and started again without its data at the same port while the
// catalog's leader's membership still lists the old process live, is not
// refused for good: the leader pings the address membership holds for
// the old process, the new process answers there and echoes the
// challenge the ping carried (transport.CallerProof), so it is taken for
// the restart membership has not seen yet and admitted at once (since
// 2026-12-07; before, told to try again until membership caught up). The
// servers list the old p until its start returns or a join of the new
// one is refused (staleDirectory). Until 2026-12-06 the join carried
// the socket's address, 0.0.0.0:PORT, never membership's; the leader
// pinged 127.0.0.1:PORT as p, the new process answered, and it was
// refused for good as already live.
func TestRestartAtTheAdvertisedAddressIsNotRefusedForGood(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startAdvertisedP(t, ctx, c)
	await.Until(t, "p at its advertised address in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.advert) })
	leader := catalogLeaderWith(t, c, p.n)
	if rec := leader.committed().recs["p"]; rec.Addr != p.advert {
		t.Errorf("p's catalog record holds the address %q; want the advertised %q, not the socket's %s", rec.Addr, p.advert, p.n.Addr())
	}
	old := p.n.id
	stale, lifted := crashUnseen(t, ctx, c, p)
	again, err := Start(ctx, p.cfg(t, p.listen, p.advert))
	stale.Store(false)
	<-lifted
	if err != nil {
		t.Fatalf("p, started again without its data at %s (advertising %s): %v", p.listen, p.advert, err)
	}
	t.Cleanup(func() { again.Close(context.Background()) })
	if again.id == old {
		t.Fatalf("p started again without its data under its old raft ID %016x", old)
	}
	await.Until(t, "p's record under its new raft ID on every server", func() bool {
		for _, n := range c.nodes {
			if n.committed().recs["p"].ID != again.id || !memberAt(n, "p", p.advert) {
				return false
			}
		}
		return true
	})
}

// A second process of a live client's name, listening elsewhere, is
// refused for good whether it advertises its own address or the live
// one's: the join's address is what the process claims, and a claim of
// the live node's address does not make it that node's restart. The
// servers' transports, which hold live connections of p's, refuse it
// (transport.ErrNameTaken), or the catalog's leader does as already
// live; the name's record keeps the live p's raft ID.
func TestSecondProcessAdvertisingALiveNodesAddressIsRefusedForGood(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startAdvertisedP(t, ctx, c)
	t.Cleanup(func() {
		p.n.Close(context.Background())
		p.fc.Close()
	})
	await.Until(t, "p at its advertised address in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.advert) })
	catalogLeaderWith(t, c, p.n)
	for _, claim := range []string{"its own", "the live one's"} {
		pc, err := net.ListenPacket("udp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		pc.Close()
		advert := "127.0.0.1:" + port
		if claim != "its own" {
			advert = p.advert
		}
		dup, err := startAnswered(t, ctx, func() *Config { return p.cfg(t, "0.0.0.0:"+port, advert) })
		if err == nil {
			dup.Close(context.Background())
			t.Fatalf("a second process named p, advertising %s address, started beside the live one", claim)
		}
		if !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), `a node named "p" is already live`) && !strings.Contains(err.Error(), `node "p" is connected from`) {
			t.Fatalf("the second p, advertising %s address: %v; want refused for good as already live", claim, err)
		}
		for _, n := range c.nodes {
			if rec := n.committed().recs["p"]; rec.ID != p.n.id {
				t.Fatalf("%s: p's record names raft ID %016x, the live p runs %016x", n.cfg.Name, rec.ID, p.n.id)
			}
		}
	}
}

// crashUnseen crashes p (no leave, its socket closed) while every node's
// membership goes on listing its process live, at its advertised
// address (memberlist's), until a join of p's was
// refused somewhere, its start returned (or ctx ends): a crash
// membership has not noticed yet. The caller lifts stale once its start
// returns and waits for lifted.
func crashUnseen(t *testing.T, ctx context.Context, c *durableQUIC, p *advertisedP) (stale *atomic.Bool, lifted <-chan struct{}) {
	t.Helper()
	stale = &atomic.Bool{}
	stale.Store(true)
	for _, n := range c.nodes {
		inner := n.directory()
		n.setDirectory(staleDirectory{directory: inner, gone: peerInfo{Name: "p", ID: p.n.id, Role: pki.RoleClient, At: p.advert}, on: stale})
		t.Cleanup(func() { n.setDirectory(inner) })
	}
	p.n.stop(context.Background(), false)
	p.fc.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil && stale.Load() && !joinRefusedOnAny(c, "p") {
			time.Sleep(10 * time.Millisecond)
		}
		stale.Store(false)
	}()
	return stale, done
}
