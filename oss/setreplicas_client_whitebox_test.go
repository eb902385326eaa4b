package oss

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// TestClientSetsTheFactorAfterAFirstVoterRestarted: a client with admin
// on a heap changes its factor after one of the heap's first voters
// restarted in memory under a new raft ID. SetHeapReplicas writes the
// entry back with the first voters recorded at creation, and the
// catalog's leader refused it (ErrPermission: the client "named" the
// restarted voter's old raft ID). The leader now takes an entry that
// keeps its heap's group and first voters as they are; one that changes
// a voter, or that names the old voters under another group, is still
// refused.
func TestClientSetsTheFactorAfterAFirstVoterRestarted(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	servers := []string{"a", "b", "c"}
	c := startTestNodes(t, 94, servers...)
	a := c.nodes["a"]
	untilLeader(t, "create h", func(ctx context.Context) error {
		_, err := a.CreateHeapIfNotExists(ctx, "h", &HeapOptions{Replicas: 3})
		return err
	})
	mustGrant(t, a, Grant{Who: "app", Heap: "h", Perm: PermAdmin})
	app := c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	first, _ := a.catalogEntry("h")
	old := c.nodes["c"].id
	if !first.FirstVoter(old) {
		t.Fatalf("c is no first voter of h: %+v", first)
	}
	c.kill("c")
	id := c.add("c", true, nil).id
	if id == old {
		t.Fatalf("c restarted in memory under its old raft ID %x", id)
	}
	waitCond(t, "every server's catalog records c's new raft ID", func() bool {
		for _, name := range servers {
			if r, ok := c.nodes[name].committed().recs["c"]; !ok || r.ID != id {
				return false
			}
		}
		return true
	})

	setReplicas(t, app, "h", 1)
	waitCond(t, "a's catalog to hold h's factor 1", func() bool { e, _ := a.catalogEntry("h"); return e.Replicas == 1 })
	cur, ok := a.catalogEntry("h")
	if !ok || cur.Replicas != 1 || cur.Group != first.Group || !slices.Equal(cur.Voters, first.Voters) {
		t.Fatalf("h's entry after the client set its factor to 1: %+v (was %+v)", cur, first)
	}

	// What the client may not write still goes through the checks.
	forged := cur
	forged.Voters = slices.Clone(cur.Voters)
	forged.Voters[slices.IndexFunc(forged.Voters, func(v groupMember) bool { return v.Name == "a" })].ID = newNodeID()
	clientWriteRefused(t, app, "an entry of h with a's raft ID changed", forged)
	regrouped := cur
	regrouped.Group = newNodeID()
	clientWriteRefused(t, app, "an entry of h under another group, c under its old raft ID", regrouped)
	if now, _ := a.catalogEntry("h"); now.Group != cur.Group || !slices.Equal(now.Voters, cur.Voters) {
		t.Fatalf("h's entry after the refused writes: %+v, want %+v", now, cur)
	}
}

// clientWriteRefused has a client write a heap entry to the catalog and
// fails the test unless the catalog's leader refuses it (ErrPermission).
func clientWriteRefused(t *testing.T, client *Node, what string, e heapEntry) {
	t.Helper()
	untilLeader(t, what, func(ctx context.Context) error {
		err := client.catalog.Load().Update(ctx, func(tx *Tx) error { return Put(tx, entryID(e.Name), e) })
		switch {
		case errors.Is(err, ErrPermission):
			return nil
		case err == nil:
			return errors.New("written, want a refusal matching ErrPermission")
		}
		return err
	})
}
