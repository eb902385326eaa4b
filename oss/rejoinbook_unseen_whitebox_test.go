package oss

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport/transporttest"
)

// A member restarted without Join, whose book's servers are live but do
// not see each other (cut apart here; on a loaded machine one suspected
// the other falsely), knows both when Start returns. It joined through
// the first that answered only, and memberlist takes no member it never
// saw alive from another's view that holds it dead or suspect: it knew
// one of them (TestMemberRestartedWithoutJoinKnowsItsPeersWhenStarted
// failed so under load, its a knowing [a c]).
func TestMemberRestartedWithoutJoinKnowsServersTheFirstDoesNotSee(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	conns := map[string]*transporttest.FaultConn{}
	tweak := map[string]func(*Config){}
	for i, name := range []string{"b", "c"} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fc := transporttest.NewFaultConn(pc, uint64(i+1))
		t.Cleanup(func() { fc.Close() }) // after the cluster's nodes stop
		conns[name] = fc
		tweak[name] = func(cfg *Config) { cfg.Listen, cfg.PacketConn = pc.LocalAddr().String(), fc }
	}
	c := newBookCluster(t, base, tweak, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	awaitBook(t, c, base, "a", "b", "c")
	addr := c.nodes["a"].Addr()
	if err := c.nodes["a"].stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, "a")

	b, cc := c.nodes["b"], c.nodes["c"]
	conns["b"].SetFaults(transporttest.PacketFaults{Blocked: map[string]bool{cc.Addr(): true}})
	conns["c"].SetFaults(transporttest.PacketFaults{Blocked: map[string]bool{b.Addr(): true}})
	await.Until(t, "b and c to see neither a nor each other", func() bool {
		return len(b.Members()) == 1 && len(cc.Members()) == 1
	})

	cfg := c.serverConfig("a", addr)
	cfg.DataDir = filepath.Join(base, "a")
	cfg.Gossip = GossipLAN // its background round comes 5 s after membership starts
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("a restarted without Join: %v", err)
	}
	c.nodes["a"] = n
	var names []string
	for _, m := range n.Members() {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Fatalf("a restarted without Join, b and c live and apart, knows members %v when Start returns; want a, b and c", names)
	}
	for _, fc := range conns {
		fc.SetFaults(transporttest.PacketFaults{})
	}
}
