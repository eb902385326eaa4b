package oss

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDropAndRevokeUncheckedSayNoInternalError: a DropHeap or RevokeGrant
// of something the local catalog replica does not hold, on a node cut
// off from the catalog's leader, fails as the check against the catalog's
// commit index failed (ctx's error, ErrNoQuorum), and says so in its own
// words. Before, the error quoted the catalog transaction's internal one,
// `the Update function returned "oss: not in the catalog, nothing to
// remove"`, to callers that never called Update.
func TestDropAndRevokeUncheckedSayNoInternalError(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 73, "a", "b", "c")
	c.followPartitions()
	var x string
	waitCond(t, "the catalog's three voters and a leader", func() bool {
		g, ok := c.group(catalogName)
		if !ok || len(g.Voters) != 3 || g.Leader == "" {
			return false
		}
		for _, v := range g.Voters {
			if v != g.Leader {
				x = v
			}
		}
		return true
	})
	others := slices.DeleteFunc([]string{"a", "b", "c"}, func(s string) bool { return s == x })
	c.net.Partition([]string{x}, others)
	defer c.net.Heal()
	n := c.nodes[x]
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s on a node cut off from the catalog's leader succeeded", what)
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrNoQuorum) {
			t.Errorf("%s: %v matches neither ctx's error nor ErrNoQuorum", what, err)
		}
		if msg := err.Error(); strings.Contains(msg, errNothingThere.Error()) || strings.Contains(msg, "Update function") {
			t.Errorf("%s says the catalog transaction's internal error: %v", what, err)
		}
		t.Logf("%s: %v", what, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	check("DropHeap", n.DropHeap(ctx, "nowhere"))
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	check("RevokeGrant", n.RevokeGrant(ctx, Grant{Who: "nobody", Heap: "nowhere", Perm: PermRead}))
}
