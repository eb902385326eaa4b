package oss

import (
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// TestRefusedCommitDropsItsGates: an Update that holds a gate (it read a
// key whose gate another transaction of its node held, and took it in
// turn) and whose commit the heap's leader refuses, for want of a grant
// the leader has not heard of yet, gives the gate up before it asks the
// catalog's leader and pauses a tick, as it does before it waits for a
// change: the node's other clients of the key do not wait on the
// catalog. It used to hold its gates until it returned, across every
// refused run.
func TestRefusedCommitDropsItsGates(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 48, func(cfg *Config) { cfg.MaxRetries = 1 << 20 }, "a", "b", "c")
	ctx := aclContext(t)
	if _, err := c.nodes["a"].CreateHeap(ctx, "w", &HeapOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "w", Perm: PermRead})
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	app := c.nodes["app"]
	hs := map[string]*Heap{}
	for _, name := range []string{"a", "b", "c", "app"} {
		h, err := c.nodes[name].Heap(ctx, "w")
		if err != nil {
			t.Fatalf("%s: open w: %v", name, err)
		}
		hs[name] = h
	}
	k := uuid.New()
	if err := hs["a"].Update(ctx, func(tx *Tx) error { return Put(tx, k, 0) }); err != nil {
		t.Fatal(err)
	}
	h := hs["app"]
	waitCond(t, "the client to have the key", func() bool {
		_, ok := h.state.Load().Get(k)
		return ok
	})
	lead := leaderOf(t, hs)
	x := lead.node.cfg.Name
	var others []string
	for _, name := range []string{"a", "b", "c"} {
		if name != x {
			others = append(others, name)
		}
	}
	// The heap's leader hears nothing of the catalog while the write is
	// granted; the client hears it all.
	c.net.Cut([2]string{x, others[0]}, [2]string{x, others[1]})
	mustGrant(t, c.nodes[others[0]], Grant{Who: "app", Heap: "w", Perm: PermWrite})
	waitCond(t, "the client to see the grant", func() bool { return app.Authorize("app", pki.RoleClient, "w", PermWrite) == nil })
	if lead.node.Authorize("app", pki.RoleClient, "w", PermWrite) == nil {
		t.Fatal("the heap's leader heard of the grant through the cut")
	}
	// Another transaction of the client's node holds k's gate.
	other := gateHold{gs: &h.gates}
	if err := other.take(ctx, h.stop, []hotKey{{id: k}}, 0); err != nil {
		t.Fatal(err)
	}
	before := lead.node.acl.refused.Load()
	done := make(chan error, 1)
	go func() {
		done <- h.Update(ctx, func(tx *Tx) error {
			v, err := Get[int](tx, k)
			if err != nil {
				return err
			}
			return Put(tx, k, v+1)
		})
	}()
	waitCond(t, "the Update to wait for the gate", func() bool { return gateWaiters(h, k) == 1 })
	other.drop() // the Update takes it, proposes, and is refused
	waitCond(t, "the heap's leader to refuse the commit twice", func() bool { return lead.node.acl.refused.Load() >= before+2 })
	// The Update has asked the catalog after its first refusal and run
	// again: it holds no gate now.
	if n := h.gates.n.Load(); n != 0 {
		t.Errorf("after a refused commit, %d gates held; want 0", n)
	}
	c.net.Heal()
	if err := await.Recv(t, done, "the commit the lagging leader refused to return"); err != nil {
		t.Fatalf("a commit granted write, refused by a leader that had not heard of it: %v", err)
	}
}
