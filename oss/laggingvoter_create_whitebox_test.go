package oss

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// A client's node draws a new heap's first voters from its membership
// view, which lists a server whose record lags (restarted empty, until
// its join moves the record) under the raft ID it runs under; the
// catalog's leader, which took a voter only as its record names it,
// refused the client's create for good (ErrPermission), telling a client
// that administers the heap that it writes only the entries of heaps it
// administers.
func TestClientCreatesAHeapWhileAVotersRecordLags(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c")
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "game-*", Perm: PermAdmin})
	app := c.startRole("app", pki.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := c.nodes["b"]
	b.catalog.Load().contact.holdRepair.Store(true)
	for {
		err := c.catalogLeader(t).catalog.Load().Update(ctx, func(tx *Tx) error {
			return Put(tx, nodeRecordID("b"), nodeRecord{Name: "b", ID: b.id ^ 1, Server: true})
		})
		if err == nil {
			break
		}
		if !errors.Is(err, ErrPermission) && !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrCommitUnknown) {
			t.Fatal(err)
		}
		t.Logf("the write of b's record: %v", err)
	}
	waitFor(t, "every node's catalog with b's record lagging", func() bool {
		for _, n := range c.nodes {
			if rec, ok := n.committed().recs["b"]; !ok || rec.ID == b.id {
				return false
			}
		}
		return true
	})
	if _, err := app.CreateHeap(ctx, "game-z", &HeapOptions{Replicas: 3}); err != nil {
		t.Fatalf("app's create of game-z, 3 replicas, while b's record lags: %v", err)
	}
	if rec := c.catalogLeader(t).committed().recs["b"]; rec.ID == b.id {
		t.Fatalf("b's record mended before the create was checked: the test proves nothing")
	}
}
