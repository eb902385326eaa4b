package oss

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// A second process holding a live client's certificate gossips an alive
// message of p from p's own address (so memberlist sees no conflict),
// with p's raft ID and its own address in the metadata: the servers'
// membership lists p under its raft ID, memberlist still at p's address,
// the announced address the copy's (the test writes that entry into
// every server's view). The copy answers pings with p's life
// (transport.QUIC.PassOffLife), keeps and reveals the challenges sent to
// it itself, and asks the catalog's leader to join under a new raft ID
// from its own address. It is not admitted, and p keeps its record: the
// leader challenges the address memberlist holds for the entry, p's, and
// the copy cannot echo what went to p. Until 2026-12-07 the leader
// challenged the announced address, the copy's own, which echoed its
// challenge and was admitted as p's restart: the live p's record moved to
// it.
func TestCopyAnnouncingAForgedAddressOfALiveNodeIsNotAdmitted(t *testing.T) {
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
	leader := catalogLeaderWith(t, c, p.n)
	dup, err := transport.NewQUIC(&transport.QUICConfig{Name: "p", Listen: "127.0.0.1:0", CertPEM: p.tls.CertPEM, KeyPEM: p.tls.KeyPEM, CAPEM: p.tls.CAPEM,
		Handler: joinRelay{}, Logger: testLogger().With("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Close()
	dupAddr := dup.Addr().String()

	stop, forged := make(chan struct{}), make(chan struct{})
	go forgeAnnouncedAddr(c, "p", p.n.id, dupAddr, stop, forged)
	defer func() {
		close(stop)
		<-forged
	}()
	await.Until(t, "the leader's membership showing p at the copy's address", func() bool { return memberAt(leader, "p", dupAddr) })

	var resp callResponse
	for {
		dup.PassOffLife(viaOtherThan(c, leader).quic, p.advert, "p")
		dup.SetPeer(leader.cfg.Name, c.addrs[leader.cfg.Name])
		req, err2 := codec.Marshal(callRequest{Op: opJoin, Heap: catalogName, ID: p.n.id + 1, Addr: dupAddr, Cluster: leader.ClusterID()})
		if err2 != nil {
			t.Fatal(err2)
		}
		var b []byte
		resp = callResponse{}
		if b, err = dup.Call(ctx, leader.cfg.Name, req); err == nil {
			err = codec.Unmarshal(b, &resp)
		}
		if (errors.Is(err, transport.ErrNameUnproven) || errors.Is(err, transport.ErrNameTaken) && strings.Contains(err.Error(), "answers there")) && ctx.Err() == nil {
			// Under load the copy's answer to the leader's transport's
			// ping, p's life passed off through another server, came
			// late (transport.QUIC.checkUnique, 2 s: ErrNameUnproven),
			// or the relay of the ping failed (a reset, no life:
			// ErrNameTaken): refused before the admission was asked.
			// Asked again.
			t.Logf("the copy's join: %v; asked again", err)
			continue
		}
		if err != nil || resp.OK || resp.Refused != "" || ctx.Err() != nil {
			break
		}
		t.Logf("%s no longer leads the catalog: asked again", leader.cfg.Name)
		leader = catalogLeaderWith(t, c, p.n)
	}
	for _, n := range c.nodes {
		if rec := n.committed().recs["p"]; rec.ID != p.n.id {
			t.Fatalf("%s: p's record names raft ID %016x, the live p runs %016x (the copy's join: %v %+v)", n.cfg.Name, rec.ID, p.n.id, err, resp)
		}
	}
	if err == nil && resp.OK {
		t.Fatalf("the copy at %s, announced as p's address, was admitted", dupAddr)
	}
	if err == nil || !strings.Contains(err.Error(), "at "+p.advert) {
		t.Fatalf("the copy's join: %v %+v; want refused, p pinged at %s, the address memberlist holds", err, resp, p.advert)
	}
	t.Logf("the copy's join: %v", err)
}

// viaOtherThan returns a server of c other than n.
func viaOtherThan(c *durableQUIC, n *Node) *Node {
	for _, name := range c.order {
		if o := c.nodes[name]; o != n {
			return o
		}
	}
	panic("one server")
}

// forgeAnnouncedAddr writes addr as the announced address of the member
// name listed under raft ID id in every server's view, as an alive
// message of the member from its own address with that metadata makes
// memberlist do, again every few milliseconds (the member's own updates
// undo it) until stop is closed; then it closes done.
func forgeAnnouncedAddr(c *durableQUIC, name string, id uint64, addr string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, n := range c.nodes {
			m := n.members
			m.mu.Lock()
			if v, ok := m.view[name]; ok && v.id == id {
				v.Addr = addr
				m.view[name] = v
			}
			m.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// restartsLogged records the address of every "node restarted" line
// logged.
type restartsLogged struct {
	mu   *sync.Mutex
	addr *[]string
}

func newRestartsLogged() restartsLogged {
	return restartsLogged{mu: &sync.Mutex{}, addr: new([]string)}
}

func (h restartsLogged) Enabled(context.Context, slog.Level) bool { return true }

func (h restartsLogged) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "node restarted") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			h.mu.Lock()
			*h.addr = append(*h.addr, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h restartsLogged) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h restartsLogged) WithGroup(string) slog.Handler { return h }

// addrs returns the addresses logged so far.
func (h restartsLogged) addrs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), *h.addr...)
}
