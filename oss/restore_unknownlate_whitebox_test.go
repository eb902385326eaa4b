package oss

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A restore whose creation's outcome was unknown, and whose drop read no
// entry of its groups, does not say the heap was never created nor that a
// heap found later under the name is another's: not seen is no answer to
// an unknown outcome (the record may commit after the read, ErrCommitUnknown
// says so). It says the creation may still commit, and names the guarded
// drop of its groups, which drops such a heap. The seam makes the drop's
// read miss an entry that is there, as one read before the record
// committed does.
func TestRestoreOfUnknownCreationNotSeenSaysItMayStillCommit(t *testing.T) {
	n, _ := failPathsNode(t, 49)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	late, err := n.CreateHeap(ctx, "L", nil) // the record that committed after the read
	if err != nil {
		t.Fatal(err)
	}
	group := late.group
	n.restoreDropFault = func() error { return errNothingThere }
	cause := unknownEntry([]uint64{group + 1, group}, fmt.Errorf("oss: heap %q: catalog: %w", "L", ErrCommitUnknown))
	err = n.restoreNotOpened(ctx, "L", cause)
	n.restoreDropFault = nil
	drop := fmt.Sprintf(`"ossd heaps drop --group %d L"`, group)
	if !errors.Is(err, ErrCommitUnknown) || errors.Is(err, errRestoreDropped) || !strings.Contains(err.Error(), "may still") ||
		!strings.Contains(err.Error(), drop) || strings.Contains(err.Error(), "now (if any) is another's") {
		t.Fatalf("restore whose unknown creation the drop did not see: %v; want one that says it may still commit, and %s", err, drop)
	}
	if err := n.DropHeapOfGroup(ctx, "L", group); err != nil {
		t.Fatalf("the guarded drop the message gives: %v", err)
	}
	if _, ok := n.catalogEntry("L"); ok {
		t.Errorf("heap L after the guarded drop: still in the catalog")
	}
}
