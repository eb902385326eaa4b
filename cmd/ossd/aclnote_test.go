package main

import (
	"context"
	"strings"
	"testing"
)

// "ossd acl grant" on a heap the cluster does not have (a mistyped name)
// succeeded and said nothing, and the client was then refused the heap
// it meant. The grant still succeeds, as one may come before its heap,
// and a note on stderr says that no heap has that name yet; a grant on a
// heap that exists, or on a prefix, notes nothing.
func TestACLGrantNotesAHeapThatDoesNotExist(t *testing.T) {
	n, flags := insecureAdmin(t)
	if _, err := n.CreateHeap(context.Background(), "wissenheim", nil); err != nil {
		t.Fatal(err)
	}
	grant := func(heap string) (string, string) {
		t.Helper()
		var out, notes strings.Builder
		if err := aclWith(&out, &notes, append([]string{"grant", "--to", "alice", "--heap", heap, "--perm", "write"}, flags...)); err != nil {
			t.Fatalf("acl grant on %s: %v", heap, err)
		}
		return out.String(), notes.String()
	}
	out, notes := grant("wissenhiem")
	if out != "granted alice write on wissenhiem\n" {
		t.Errorf("acl grant on a heap yet to be made printed %q; want the grant", out)
	}
	if !strings.Contains(notes, `no heap "wissenhiem" yet`) || !strings.Contains(notes, "ossd acl revoke --to alice --heap wissenhiem --perm write") {
		t.Errorf("acl grant on a heap the cluster lacks noted %q; want it said, with the revoke", notes)
	}
	for _, heap := range []string{"wissenheim", "game-*"} {
		if _, notes := grant(heap); notes != "" {
			t.Errorf("acl grant on %s noted %q; want nothing", heap, notes)
		}
	}
}
