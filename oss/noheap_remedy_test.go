package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ErrNoHeap says what to do, not only what is missing: opening a heap
// that does not exist names the calls (and the command) that create it,
// and dropping one says that nothing was dropped; both still match
// ErrNoHeap. The error said only `oss: heap "nosuch": oss: no such heap`.
func TestNoHeapSaysHowToCreateIt(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	if _, err := n.CreateHeap(ctx, "gone", nil); err != nil {
		t.Fatal(err)
	}
	if err := n.DropHeap(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nosuch", "gone"} {
		_, err := n.Heap(ctx, name)
		if !errors.Is(err, oss.ErrNoHeap) {
			t.Fatalf("Heap(%q): %v, want ErrNoHeap", name, err)
		}
		for _, want := range []string{`heap "` + name + `"`, "no such heap", "Node.CreateHeap", "CreateHeapIfNotExists", "ossd heaps create " + name} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Heap(%q): %q\nwant it to say %q", name, err, want)
			}
		}
	}
	err = n.DropHeap(ctx, "nosuch")
	if !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("DropHeap of a heap that does not exist: %v, want ErrNoHeap", err)
	}
	for _, want := range []string{`"nosuch"`, "nothing was dropped", "Node.Heaps"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("DropHeap: %q\nwant it to say %q", err, want)
		}
	}
}
