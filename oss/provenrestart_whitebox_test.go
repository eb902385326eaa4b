package oss

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// A client listening on every address at port P, advertising 127.0.0.1:P,
// crashed and started again without its data at the same port but
// advertising 127.0.0.2:P, is admitted by its first Start, without
// JoinRetry, while every server's membership still lists the old
// process (staleDirectory, on until Start returns, at the address
// memberlist holds for it, 127.0.0.1:P, whatever membership shows by
// name): the catalog's leader pings that address with a challenge (the
// one it logs), the joining process echoes it on its call's connection
// (transport.CallerProof), so it is the process answering there, and its
// record moves to the new raft ID at once. Until 2026-12-07 the same life at both ends only told it to try
// again until membership moved the old entry (in CI for more than 30 s,
// the length of one attempt to join).
func TestProvenRestartAtItsListedAddressIsAdmittedAtOnce(t *testing.T) {
	t.Parallel()
	logged := newRestartsLogged()
	c := newDurableQUICWith(t, func(cfg *Config) { cfg.Logger = slog.New(logged) }, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startAdvertisedP(t, ctx, c)
	await.Until(t, "p at its advertised address in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.advert) })
	catalogLeaderWith(t, c, p.n)
	old := p.n.id
	stale := &atomic.Bool{}
	stale.Store(true)
	for _, n := range c.nodes {
		inner := n.directory()
		n.setDirectory(staleDirectory{directory: inner, gone: peerInfo{Name: "p", ID: old, Role: pki.RoleClient, At: p.advert}, on: stale})
		t.Cleanup(func() { n.setDirectory(inner) })
	}
	_, port, err := net.SplitHostPort(p.listen)
	if err != nil {
		t.Fatal(err)
	}
	// Membership by name shows p at its new address, as it does once it
	// takes the new process: a second read by name (memberAddr) gave the
	// new process's address, not the listed entry's.
	stop, forged := make(chan struct{}), make(chan struct{})
	go forgeAnnouncedAddr(c, "p", old, "127.0.0.2:"+port, stop, forged)
	defer func() {
		close(stop)
		<-forged
	}()
	await.Until(t, "a's membership showing p at its new address", func() bool { return memberAt(c.nodes["a"], "p", "127.0.0.2:"+port) })
	p.n.stop(context.Background(), false)
	p.fc.Close()
	cfg := p.cfg(t, p.listen, "127.0.0.2:"+port)
	cfg.JoinRetry = false
	again, err := Start(ctx, cfg)
	listed := stale.Swap(false)
	if err != nil {
		t.Fatalf("p, started again without its data at %s advertising 127.0.0.2:%s (before: %s), the old process listed live: %v", p.listen, port, p.advert, err)
	}
	t.Cleanup(func() { again.Close(context.Background()) })
	if !listed {
		t.Fatal("the servers' directories stopped listing the old p before the start returned")
	}
	if again.id == old {
		t.Fatalf("p started again without its data under its old raft ID %016x", old)
	}
	t.Logf("admitted; a join of p refused on the way: %v", joinRefusedOnAny(c, "p"))
	if addrs := logged.addrs(); len(addrs) == 0 || slices.ContainsFunc(addrs, func(a string) bool { return a != p.advert }) {
		t.Fatalf("restarts admitted, pinged at %q; want at the old advertised address %s, which membership holds", addrs, p.advert)
	}
	await.Until(t, "p's record under its new raft ID on every server", func() bool {
		for _, n := range c.nodes {
			if n.committed().recs["p"].ID != again.id {
				return false
			}
		}
		return true
	})
}
