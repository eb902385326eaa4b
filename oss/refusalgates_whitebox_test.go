package oss

import (
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
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
	c, ctx, app, hs := laggingACLHeaps(t, 48)
	k := uuid.New()
	if err := hs["a"].Update(ctx, func(tx *Tx) error { return Put(tx, k, 0) }); err != nil {
		t.Fatal(err)
	}
	h := hs["app"]
	waitCond(t, "the client to have the key", func() bool {
		_, ok := h.state.Load().Get(k)
		return ok
	})
	lead := grantPastTheLeader(t, c, app, hs)
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
