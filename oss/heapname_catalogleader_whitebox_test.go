package oss

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// The catalog's leader applies a new heap's name rules (newHeapName) to
// a client's catalog write that creates an entry: a client with admin on
// "game-*" and a build without the local check could otherwise make
// "game-\u202eevil", "game-\u009bc1" or "game-*". An entry already in
// the catalog (a heap made before the rules) is still rewritten (its
// factor changed) and dropped.
func TestCatalogLeaderRefusesClientsNewUnprintableHeapNames(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 41, "n1")
	n := c.nodes["n1"]
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	if err := n.Grant(ctx, Grant{Who: "app", Heap: "game-*", Perm: PermAdmin}); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the grant to apply", func() bool {
		return n.Authorize("app", pki.RoleClient, "game-1", PermAdmin) == nil
	})
	entry := func(name string, replicas int) consistency.Write {
		e := heapEntry{Name: name, Replicas: replicas, Group: 7, Voters: firstVoters(name, 1, n.live())}
		return putWrite(t, entryID(name), e)
	}
	check := func(what string, w consistency.Write) error {
		st := n.catalog.Load().state.Load()
		return n.mayWriteCatalog("app", pki.RoleClient, st, &consistency.Record{Writes: []consistency.Write{w}})
	}
	if err := check("game-1", entry("game-1", 1)); err != nil {
		t.Fatalf("a new heap of a printable name: %v", err)
	}
	for _, name := range []string{"game-\u202eevil", "game-\u009bc1", "game-*", "game-\u2066x"} {
		err := check(name, entry(name, 1))
		if !errors.Is(err, ErrPermission) || !errors.Is(err, ErrInvalidHeapName) {
			t.Errorf("a client's new entry %q: %v; want ErrPermission and ErrInvalidHeapName", name, err)
		}
	}

	old := "game-old\u202eevil"
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		e := heapEntry{Name: old, Replicas: 1, Group: newNodeID(), Voters: firstVoters(old, 1, n.live())}
		return Put(tx, entryID(old), e)
	})
	if err != nil {
		t.Fatalf("write the entry of %q as an older node did: %v", old, err)
	}
	if err := check("rewrite of "+old, entry(old, 2)); err != nil {
		t.Errorf("a client's rewrite of the old entry %q: %v", old, err)
	}
	if err := check("drop of "+old, consistency.Write{ID: entryID(old), Delete: true}); err != nil {
		t.Errorf("a client's drop of the old entry %q: %v", old, err)
	}
}
