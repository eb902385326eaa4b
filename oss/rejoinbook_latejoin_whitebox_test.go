package oss

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
)

// A member restarted without Join whose book's first round heard only a
// refusal of its certificate (b's), the other servers answering only
// after the round's bound, joins through one of them in bookRefusal's
// second try, and then through the servers the first does not see: it
// knows c and d when Start returns. The joins of the unseen servers ran
// on the first round's context, spent by then, dialled nobody, and the
// node knew one of them.
func TestMemberJoinedOnBookRefusalsSecondTryKnowsTheUnseenServers(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	conns := map[string]*transporttest.FaultConn{}
	tweak := map[string]func(*Config){}
	for i, name := range []string{"c", "d"} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fc := transporttest.NewFaultConn(pc, uint64(i+1))
		t.Cleanup(func() { fc.Close() }) // after the cluster's nodes stop
		conns[name] = fc
		tweak[name] = func(cfg *Config) { cfg.Listen, cfg.PacketConn = pc.LocalAddr().String(), fc }
	}
	c := newBookCluster(t, base, tweak, "a", "b", "c", "d")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	awaitBook(t, c, base, "a", "b", "c", "d")
	addr, bAddr := c.nodes["a"].Addr(), c.nodes["b"].Addr()
	for _, name := range []string{"a", "b"} {
		if err := c.nodes[name].stop(ctx, true); err != nil {
			t.Fatal(err)
		}
		delete(c.nodes, name)
	}
	cc, d := c.nodes["c"], c.nodes["d"]
	conns["c"].SetFaults(transporttest.PacketFaults{Blocked: map[string]bool{d.Addr(): true}})
	conns["d"].SetFaults(transporttest.PacketFaults{Blocked: map[string]bool{cc.Addr(): true}})
	await.Until(t, "c and d to see neither a, b nor each other", func() bool {
		return len(cc.Members()) == 1 && len(d.Members()) == 1
	})

	// b's address refuses a's certificate; c and d answer no dial of
	// the first round (it ends at its bound), and every later one.
	var mu sync.Mutex
	dialled := map[string]int{}
	cfg := c.serverConfig("a", addr)
	cfg.DataDir = filepath.Join(base, "a")
	cfg.Gossip = GossipLAN // its background round comes 5 s after membership starts
	cfg.reach = func(ctx context.Context, to string, real func(context.Context, string) error) error {
		if to == bAddr {
			return fmt.Errorf("%w: bad certificate (the test's)", transport.ErrPeerRefused)
		}
		mu.Lock()
		dialled[to]++
		first := dialled[to] == 1
		mu.Unlock()
		if first {
			<-ctx.Done()
			return ctx.Err()
		}
		return real(ctx, to)
	}
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
	if !slices.Equal(names, []string{"a", "c", "d"}) {
		t.Fatalf("a restarted without Join, b refusing it, c and d live and apart and answering after the first round, knows members %v when Start returns; want a, c and d", names)
	}
	for _, fc := range conns {
		fc.SetFaults(transporttest.PacketFaults{})
	}
}
