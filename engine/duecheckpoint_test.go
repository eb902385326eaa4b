package engine

import (
	"testing"

	"github.com/objectsharing/oss/consistency"
)

// A checkpoint that is due when the owner's previous one is reported
// (asked for while that one ran, and not taken then: package oss runs one
// at a time) is asked for again at the next tick, with nothing applied
// meanwhile: a lone replica gets no Ready from peers, and before
// 2026-12-05 only its next apply asked again.
func TestDueCheckpointIsAskedAgainAtATick(t *testing.T) {
	for _, mode := range []struct {
		name         string
		async, apart bool
	}{{"sync", false, false}, {"async", true, false}, {"async, apply apart", true, true}} {
		t.Run(mode.name, func(t *testing.T) {
			asyncWrites, applyApart = mode.async, mode.apart
			defer func() { asyncWrites, applyApart = false, false }()
			const every = 8
			c := newCluster(t, 1, func(cfg *Config, _ *consistency.Config) {
				cfg.Durable, cfg.CompactEvery, cfg.KeepEntries = true, every, 2
			})
			n := c.node(1)
			c.elect(1)
			n.ckptOK = false // busy: every ask is let go
			for range 3 * every {
				n.e.Propose([]Proposal{prop(t, n.applied())})
				c.settle()
			}
			if len(n.asked) == 0 {
				t.Fatal("no checkpoint asked")
			}
			// The checkpoint that ran is reported, at the first index
			// asked for; the replica, idle, is due another.
			n.taken = n.asked[0]
			n.e.Checkpointed(n.taken)
			n.ckptOK, n.asked = true, nil
			applied := n.applied()
			c.tick(1)
			if n.applied() != applied {
				t.Fatalf("applied %d at the tick, want %d: not idle", n.applied(), applied)
			}
			if len(n.asked) == 0 || n.taken != applied {
				t.Fatalf("after a tick: asked %v, last checkpoint at %d, applied %d", n.asked, n.taken, applied)
			}
		})
	}
}
