package oss

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport/transporttest"
)

// A client killed (its peers hear nothing more from it) and started
// again at once at another port, as a Wissenheim window is, starts at
// its first attempt. Its first try was told that no member answered
// ("cannot reach the cluster", in the window): each server held its new
// connection while it checked that the old one no longer answered (2 s),
// and the join's exchange timed out meanwhile (2 s on loopback). Its
// next was refused for good as a second live node of its name, until
// the servers found the old one dead.
func TestClientKilledAndStartedElsewhereStartsAtOnce(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, "p", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tc := &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fc := transporttest.NewFaultConn(pc, 1)
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	cfg := func(listen string) *Config {
		return &Config{Name: "p", Role: pki.RoleClient, TLS: tc, Listen: listen, Join: []string{c.addrs["a"]},
			Gossip: GossipLoopback, Logger: testLogger().With("test", t.Name())}
	}
	first := cfg(pc.LocalAddr().String())
	first.PacketConn = fc
	p, err := Start(ctx, first)
	if err != nil {
		fc.Close()
		t.Fatal(err)
	}
	a := c.nodes["a"]
	await.Until(t, "p in a's view", func() bool { return memberAt(a, "p", p.Addr()) })
	// Killed: nothing it sends reaches anyone any more.
	fc.SetFaults(transporttest.PacketFaults{Drop: 1})
	stopped, stop := context.WithCancel(context.Background())
	stop()
	p.Close(stopped)
	fc.Close()

	p, err = Start(ctx, cfg("127.0.0.1:0"))
	if err != nil {
		t.Fatalf("p, started again at another port: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	await.Until(t, "p at its new address in every server's view", func() bool {
		for _, n := range c.nodes {
			if !memberAt(n, "p", p.Addr()) {
				return false
			}
		}
		return true
	})
}
