package oss

import (
	"strings"
	"testing"
)

// The grant a permission error names is a command to paste into a
// shell: a heap of "*" (what a debug bundle's profiles need) was printed
// bare, and the shell expanded it to the current directory's file names;
// a heap name with a space split in two.
func TestPermissionErrorGrantIsOneShellWordEach(t *testing.T) {
	for _, tc := range []struct {
		heap, want string
	}{
		{"scores", "--heap scores --perm"},
		{"*", "--heap '*' --perm"},
		{"game-*", "--heap 'game-*' --perm"},
		{"my heap", "--heap 'my heap' --perm"},
		{"it's", `--heap 'it'\''s' --perm`},
	} {
		err := &PermissionError{Who: "bob", Role: "client", Heap: tc.heap, Perm: PermAdmin}
		if got := err.Error(); !strings.Contains(got, "ossd acl grant --to bob "+tc.want) {
			t.Errorf("heap %q: %s\nwant the grant to hold %q", tc.heap, got, tc.want)
		}
	}
}
