package oss_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// Every public method of a Node, a Heap, a Tx and a Watch called after
// the node closed: none panics, and every one that acts returns an error
// matching ErrClosed.
func TestEveryCallAfterClose(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n, h := openHeap(t, &oss.Config{DataDir: t.TempDir()})
	id := create(t, h, counter{N: 1})
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, oss.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	_, err = n.CreateHeap(ctx, "x", nil)
	closed("CreateHeap", err)
	_, err = n.CreateHeapIfNotExists(ctx, "x", nil)
	closed("CreateHeapIfNotExists", err)
	_, err = n.Heap(ctx, "test")
	closed("Heap", err)
	closed("DropHeap", n.DropHeap(ctx, "test"))
	closed("Grant", n.Grant(ctx, oss.Grant{Who: "a", Heap: "test", Perm: oss.PermRead}))
	closed("RevokeGrant", n.RevokeGrant(ctx, oss.Grant{Who: "a", Heap: "test", Perm: oss.PermRead}))
	closed("SetHeapReplicas", n.SetHeapReplicas(ctx, "test", 1))
	_, err = n.RevokeCertificate(ctx, "a", big.NewInt(1))
	t.Logf("RevokeCertificate: %v", err)
	t.Logf("Authorize: %v", n.Authorize("a", pki.RoleClient, "test", oss.PermRead))
	t.Logf("ReloadCertificate: %v", n.ReloadCertificate(nil, nil))
	t.Logf("ReloadTLS: %v", n.ReloadTLS(nil, nil, nil))
	t.Logf("CheckRootName: %v", n.CheckRootName("r"))
	n.Addr()
	n.Certificate()
	n.ClusterID()
	n.Damage()
	n.DiskStalled()
	n.Grants()
	n.Name()
	n.Revocations()
	n.Revoked()
	n.Metrics()
	if len(n.Heaps()) != 0 || len(n.Members()) != 0 || !n.Status(ctx).Closed {
		t.Errorf("a closed node reports heaps %v, members %v", n.Heaps(), n.Members())
	}
	if _, _, ok := n.ReplicaStats("test"); ok {
		t.Error("ReplicaStats of a closed node reports a replica")
	}
	closed("Update", h.Update(ctx, func(tx *oss.Tx) error { return nil }))
	closed("View", h.View(ctx, func(tx *oss.Tx) error { return nil }, nil))
	closed("Fresh View", h.View(ctx, func(tx *oss.Tx) error { return nil }, &oss.ViewOptions{Fresh: true}))
	_, err = h.Begin(ctx, nil)
	closed("Begin", err)
	_, err = h.Watch(nil)
	closed("Watch", err)
	h.Digest()
	h.Hot()
	h.Name()
	if !h.Stats().Closed {
		t.Error("Stats of a closed heap: not Closed")
	}
	// The transaction begun before: reads its snapshot or fails, never panics.
	oss.Get[counter](tx, id)
	tx.Exists(id)
	tx.Version(id)
	tx.Root("r")
	tx.Scan(func(uuid.UUID) bool { return true })
	tx.SetRoot("r", id)
	tx.DeleteRoot("r")
	tx.Delete(uuid.New())
	tx.Index()
	tx.OnCommit(func() { t.Error("OnCommit ran for a transaction of a closed node") })
	closed("Commit", tx.Commit())
	if err := tx.Rollback(); !errors.Is(err, oss.ErrTxDone) {
		t.Errorf("Rollback after Commit: %v, want ErrTxDone", err)
	}
	for {
		if _, err := w.Next(ctx); err != nil {
			closed("Watch.Next", err)
			break
		}
	}
	closed("SetInterest", w.SetInterest(nil, nil))
	if err := w.Close(); err != nil {
		t.Errorf("Watch.Close: %v", err)
	}
	if err := n.Close(ctx); err != nil {
		t.Errorf("Close again: %v", err)
	}
}
