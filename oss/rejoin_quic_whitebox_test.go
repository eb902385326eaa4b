package oss

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"

	"github.com/objectsharing/oss/transport/transporttest"
)

// On QUIC with membership, as ossd runs: a node cut off at the UDP level
// for longer than ReplaceAfter and than memberlist keeps gossiping to the
// dead is removed from its groups and declared dead on both sides. After
// the cut heals, membership must merge again and the node's open handle
// must commit and read Fresh.
func TestQUICRemovedReplicaRejoins(t *testing.T) {
	t.Parallel()
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c", "d"}
	nodes := map[string]*Node{}
	conns := map[string]*transporttest.FaultConn{}
	addrs := map[string]string{}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop(context.Background(), false)
		}
		for _, fc := range conns {
			fc.Close()
		}
	})
	for i, name := range names {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fc := transporttest.NewFaultConn(pc, uint64(i)+1)
		conns[name], addrs[name] = fc, pc.LocalAddr().String()
		cert, key, err := pki.IssueCert(caCert, caKey, name, pki.RoleServer, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// The default tick: at 20 ms the election timeout (200 ms) was
		// under a QUIC round trip at load 18 under the race detector,
		// and every catalog leader stepped down for want of a quorum
		// before its followers' answers came in, for 20 s.
		cfg := &Config{Name: name, Listen: addrs[name], Gossip: GossipLoopback,
			ReplaceAfter: time.Second, Logger: testLogger().With("test", t.Name()),
			TLS: &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}}
		if i > 0 {
			// Again while a's answer outlasts memberlist's 2 s (load
			// 23 under -race: "no member answered").
			cfg.Join, cfg.JoinRetry = []string{addrs["a"]}, true
		}
		ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
		cfg.PacketConn = fc
		n, err := Start(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		nodes[name] = n
	}
	heaps := map[string]*Heap{}
	for _, name := range names {
		// Again while the new group is between leaders
		// (ErrCreatedNotOpen at load 26).
		untilLeader(t, name+": create bank", func(ctx context.Context) (err error) {
			heaps[name], err = nodes[name].CreateHeapIfNotExists(ctx, "bank", nil)
			return err
		})
	}
	qc := &quicCluster{t: t, nodes: nodes}
	waitCond(t, "bank's three voters", func() bool {
		g, ok := qc.group("bank")
		return ok && !g.Joint && len(g.Voters) == 3 && len(g.Learners) == 1
	})
	g := qc.waitGroup(t, "bank")
	victim := g.Learners[0]
	ids := seedBank(t, heaps[g.Leader])
	cut := func(on bool) {
		for name, fc := range conns {
			blocked := map[string]bool{}
			for other, addr := range addrs {
				if on && (name == victim) != (other == victim) {
					blocked[addr] = true
				}
			}
			fc.SetFaults(transporttest.PacketFaults{Blocked: blocked})
		}
	}
	cut(true)
	waitCondWithin(t, detectWithin, victim+" removed from the group and from membership", func() bool {
		g, ok := qc.group("bank")
		return ok && !slices.Contains(g.Learners, victim) && !slices.Contains(g.Voters, victim) &&
			!slices.ContainsFunc(nodes[g.Leader].Members(), func(m Member) bool { return m.Name == victim })
	})
	// Past memberlist's gossip to the dead: neither side contacts the
	// other of its own accord any more.
	time.Sleep(2 * time.Second)
	var others []string
	for _, name := range names {
		if name != victim {
			others = append(others, name)
		}
	}
	for i := range 20 {
		untilCommitted(t, "a transfer without "+victim, heaps[others[i%3]], func(tx *Tx) error {
			return transferIn(tx, ids[i%8], ids[(i+1)%8], 1)
		})
	}
	cut(false)
	hv := heaps[victim]
	waitCond(t, victim+"'s open handle to commit", func() bool {
		return transfer(context.Background(), hv, ids[0], ids[1], 1) == nil
	})
	untilLeader(t, victim+": fresh view after healing", func(ctx context.Context) error {
		return hv.View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true})
	})
	qc.asTest(heaps).checkBank(ids)
	waitCond(t, "membership to merge", func() bool {
		for _, n := range nodes {
			if len(n.Members()) != len(names) {
				return false
			}
		}
		return true
	})
}
