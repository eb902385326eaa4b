package oss

import (
	"strings"
	"testing"
)

// A refusal says whose rule the name broke: C0 controls and DEL no heap
// name may hold, old or new; C1 controls and bidirectional formatting
// characters only a new heap's name (older heaps with them still open).
func TestBadRuneSaysWhichNamesTheRuleIsFor(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{validHeapName("a\x01b"), "which a heap's name may not hold"},
		{newHeapName("x\u0085"), "which a new heap's name may not hold"},
		{newHeapName("x\u202e"), "which a new heap's name may not hold"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v; want it to say %q", tc.err, tc.want)
		}
	}
}
