package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// The command "no such heap" tells the user to run names the heap as
// ossd's own remedies do (cmd/ossd/shellword.go): a name that starts
// with "-" after "--", which ends the flags ("ossd heaps create -x"
// failed with "flag provided but not defined: -x"), one a shell would
// expand or split quoted, and control characters escaped, never raw.
func TestNoHeapRemedyIsACommandThatNamesTheHeap(t *testing.T) {
	n, _ := openHeap(t, nil)
	ctx := context.Background()
	for name, want := range map[string]string{
		"-x":         "(from the shell: ossd heaps create -- -x)",
		"--all":      "(from the shell: ossd heaps create -- --all)",
		"~root":      "(from the shell: ossd heaps create '~root')",
		"=x":         "(from the shell: ossd heaps create '=x')",
		"a b":        "(from the shell: ossd heaps create 'a b')",
		"old\u009b2": `(from the shell: ossd heaps create $'old\xc2\x9b2')`,
		"plain":      "(from the shell: ossd heaps create plain)",
	} {
		_, err := n.Heap(ctx, name)
		if !errors.Is(err, oss.ErrNoHeap) || !strings.Contains(err.Error(), want) {
			t.Errorf("Heap(%q): %v\nwant ErrNoHeap saying %s", name, err, want)
		}
	}
	perm := (&oss.PermissionError{Who: "~bob", Role: "client", Heap: "-x\u202e", Perm: oss.PermRead}).Error()
	if want := `ossd acl grant --to '~bob' --heap $'-x\xe2\x80\xae' --perm read`; !strings.HasSuffix(perm, want) {
		t.Errorf("the permission error says %q\nwant it to end with %s", perm, want)
	}
}
