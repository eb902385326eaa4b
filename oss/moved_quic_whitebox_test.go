package oss

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
	ocodec "github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
)

// memberEvents records the membership events of the nodes of a test.
type memberEvents struct {
	mu  sync.Mutex
	got map[string][]memberEvent // by the node that saw them
}

func (e *memberEvents) tune(cfg *Config) {
	name := cfg.Name
	cfg.onMemberEvent = func(ev memberEvent) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.got == nil {
			e.got = map[string][]memberEvent{}
		}
		e.got[name] = append(e.got[name], ev)
	}
}

// seenAt returns the addresses at which any node saw the named member
// join or change.
func (e *memberEvents) seenAt(member string) map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]bool{}
	for _, evs := range e.got {
		for _, ev := range evs {
			if ev.Member.Name == member && (ev.Kind == memberJoined || ev.Kind == memberUpdated) {
				out[ev.Member.Addr] = true
			}
		}
	}
	return out
}

// newDurableQUICWith is newDurableQUIC with each node's configuration
// changed by tune at its start.
func newDurableQUICWith(t testing.TB, tune func(*Config), names ...string) *durableQUIC {
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &durableQUIC{t: t, dir: t.TempDir(), caCert: caCert, caKey: caKey, tune: tune,
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

// memberAt reports whether n lists the named member at addr.
func memberAt(n *Node, name, addr string) bool {
	for _, m := range n.Members() {
		if m.Name == name {
			return m.Addr == addr
		}
	}
	return false
}

// forgedAlive is memberlist's alive message of the named member at addr,
// with the member's metadata as a node of cluster announces it.
func forgedAlive(t *testing.T, name, addr string, id, cluster uint64) []byte {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ocodec.Marshal(memberMeta{Addr: addr, Role: string(pki.RoleServer), ID: id, Cluster: cluster, Life: 1})
	if err != nil {
		t.Fatal(err)
	}
	msg := struct {
		Incarnation uint32
		Node        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Vsn         []uint8
	}{1 << 30, name, net.ParseIP(host).To4(), uint16(p), meta, []uint8{1, 5, 2, 0, 0, 0}}
	buf := bytes.NewBuffer([]byte{4}) // memberlist's alive message
	if err := codec.NewEncoder(buf, &codec.MsgpackHandle{}).Encode(msg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A node restarted on its data directory at another address, after its
// peers declared it failed, is back in every member's view at its new
// address and commits. memberlist kept the dead record's address and
// took the new one only once it forgot the record (GossipToTheDeadTime:
// 30 s on a LAN; here an hour, so that the wait shows): b was left out
// of a's and c's status for 30 to 50 s ("Conflicting address"). Nobody
// else takes the name's address meanwhile: a client certificate of
// another name that gossips b's alive message at its own address has it
// dropped, and a stranger (a certificate of another CA) is not let in.
func TestNodeRestartedElsewhereIsBackAtOnce(t *testing.T) {
	t.Parallel()
	var events memberEvents
	c := newDurableQUICWith(t, func(cfg *Config) {
		cfg.tuneGossip = func(mc *memberlist.Config) { mc.GossipToTheDeadTime = time.Hour }
		events.tune(cfg)
	}, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*await.Deadline)
	defer cancel()
	a, cn := c.nodes["a"], c.nodes["c"]
	if _, err := c.nodes["b"].CreateHeap(ctx, "moved", &HeapOptions{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	bID := c.nodes["b"].id
	c.kill("b")
	await.Until(t, "b failed for a and c", func() bool {
		return !memberAt(a, "b", c.addrs["b"]) && !memberAt(cn, "b", c.addrs["b"])
	})

	// A client certificate named x gossips that b is alive at x's address.
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, "x", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	x, err := transport.NewQUIC(&transport.QUICConfig{Name: "x", Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key, CAPEM: c.caCert,
		Handler: callHandler{}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	dropped := a.members.gt.Dropped()
	forged := forgedAlive(t, "b", x.Addr().String(), bID, a.ClusterID())
	await.Until(t, "a to drop x's word of b", func() bool {
		if err := x.SendDatagram(ctx, a.Addr(), "a", forged); err != nil {
			t.Fatalf("x's datagram to a: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
		return a.members.gt.Dropped() > dropped
	})
	// A stranger, its certificate of b's name from another CA, is not
	// let in at all.
	otherCA, otherKey, err := pki.NewCA("other", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	scert, skey, err := pki.IssueCert(otherCA, otherKey, "b", pki.RoleServer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := transport.NewQUIC(&transport.QUICConfig{Name: "b", Listen: "127.0.0.1:0", CertPEM: scert, KeyPEM: skey, CAPEM: otherCA,
		Handler: callHandler{}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	if err := stranger.SendDatagram(ctx, a.Addr(), "a", forgedAlive(t, "b", stranger.Addr().String(), bID, a.ClusterID())); !errors.Is(err, transport.ErrRefused) {
		t.Fatalf("a stranger's datagram to a: %v; want its handshake refused", err)
	}

	c.addrs["b"] = "" // a new address
	if err := c.start("b"); err != nil {
		t.Fatalf("b, started again at a new address: %v", err)
	}
	b := c.nodes["b"]
	await.Until(t, "b at its new address in a's and c's view", func() bool {
		return memberAt(a, "b", b.Addr()) && memberAt(cn, "b", b.Addr())
	})
	h, err := b.Heap(ctx, "moved")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, uuid.New(), "back") }); err != nil {
		t.Fatalf("a commit through b at its new address: %v", err)
	}
	for addr := range events.seenAt("b") {
		if addr == x.Addr().String() || addr == stranger.Addr().String() {
			t.Errorf("b was seen at %s, not its address", addr)
		}
	}
}
