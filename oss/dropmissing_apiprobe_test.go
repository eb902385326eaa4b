package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestDropOrRevokeOfNothingWritesNothing: DropHeap of a name no heap has,
// and RevokeGrant of a grant nobody holds, find nothing to remove. They
// used to send the catalog a record with the read and no write all the
// same (a log entry and a sync on every voter), and a close or a lost
// leader during it made DropHeap of a heap that never existed return
// ErrCommitUnknown. Their "nothing there" is now checked as any Update
// function's error is, with a read index: the catalog commits nothing.
func TestDropOrRevokeOfNothingWritesNothing(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	catalog := func() oss.Stats {
		s, _, ok := n.ReplicaStats("oss:catalog")
		if !ok {
			t.Fatal("no catalog replica")
		}
		return s
	}
	before := catalog()
	if err := n.DropHeap(ctx, "never-made"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("DropHeap of a missing heap: %v, want ErrNoHeap", err)
	}
	err = n.RevokeGrant(ctx, oss.Grant{Who: "nobody", Heap: "never-made", Perm: oss.PermRead})
	if !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("RevokeGrant of a missing grant: %v, want ErrNotFound", err)
	}
	after := catalog()
	if after.Commits != before.Commits || after.Applied != before.Applied {
		t.Errorf("the catalog committed %d records (applied %d to %d) for removals of nothing, want none",
			after.Commits-before.Commits, before.Applied, after.Applied)
	}
	if after.Checks != before.Checks+2 {
		t.Errorf("catalog checks went from %d to %d, want 2 more (one read index each)", before.Checks, after.Checks)
	}
}
