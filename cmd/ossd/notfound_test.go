package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A command given a heap, a root or an object that does not exist says
// which is missing and what to do, and still matches what the node's
// answer matched. "ossd get bnak motd" said `oss: heap "bnak": oss: no
// such heap`, and "ossd get settings motdd" `oss: not found: root
// "motdd"`, naming neither the heap nor a remedy.
func TestMissingHeapOrRootSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	n, flags := insecureAdmin(t)
	if _, err := n.CreateHeap(ctx, "settings", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		match error
		want  []string
	}{
		{[]string{"get", "bnak", "motd"}, oss.ErrNotFound,
			[]string{`get: the cluster has no heap "bnak"`, `"ossd heaps" lists its heaps`, `"ossd heaps create bnak"`}},
		{[]string{"get", "settings", "motdd"}, oss.ErrNotFound,
			[]string{`get: heap "settings" has no root "motdd"`, `"ossd put settings motdd JSON" sets it`}},
		{[]string{"get", "settings", "01a24723-aeed-73ea-835e-fe5ef05e6c8a"}, oss.ErrNotFound,
			[]string{`get: heap "settings" holds no object 01a24723-aeed-73ea-835e-fe5ef05e6c8a`}},
		{[]string{"hot", "bnak"}, oss.ErrNotFound,
			[]string{`hot: the cluster has no heap "bnak"`, `"ossd heaps" lists its heaps`}},
		{[]string{"heaps", "drop", "bnak"}, oss.ErrNotFound,
			[]string{`heaps drop: the cluster has no heap "bnak", so nothing was dropped`, `"ossd heaps" lists its heaps`}},
	} {
		err := dispatch(append(tc.args, flags...))
		if err == nil {
			t.Errorf("ossd %s: no error", strings.Join(tc.args, " "))
			continue
		}
		if !errors.Is(err, tc.match) {
			t.Errorf("ossd %s: %v; want an error matching %v", strings.Join(tc.args, " "), err, tc.match)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ossd %s says:\n%v\nwant %q", strings.Join(tc.args, " "), err, w)
			}
		}
	}
	// A heap that exists is not dropped by the look-up, nor a root read.
	if _, err := n.Heap(ctx, "settings"); err != nil {
		t.Fatalf("the heap after the commands: %v", err)
	}
}
