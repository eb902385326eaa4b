package oss

import (
	"context"
	"slices"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// A client node's own status lists the heaps it may read alone. Its
// peers answer it of no other heap's replicas (statusFor), so the heaps
// of its catalog replica it may not read were listed with no leader, no
// voters and nothing applied: as heaps whose group is gone.
func TestClientsOwnStatusLeavesOutHeapsItMayNotRead(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a")
	a := c.nodes["a"]
	for _, heap := range []string{"bank", "vault"} {
		untilLeader(t, "create "+heap, func(ctx context.Context) error {
			_, err := a.CreateHeapIfNotExists(ctx, heap, nil)
			return err
		})
	}
	mustGrant(t, a, Grant{Who: "app", Heap: "bank", Perm: PermRead})
	app := c.startRole("app", pki.RoleClient)
	ctx := context.Background()
	// Once app's catalog replica holds both heaps and the grant, and a
	// answered it of bank.
	var names []string
	waitCond(t, "app's status to name bank's leader", func() bool {
		if len(app.catalogEntries()) < 2 || app.authorize("app", pki.RoleClient, "bank", PermRead) != nil {
			return false
		}
		st := app.Status(ctx)
		names = names[:0]
		led := false
		for _, h := range st.Heaps {
			names = append(names, h.Name)
			led = led || h.Name == "bank" && h.Leader == "a"
		}
		return led
	})
	if want := []string{catalogName, "bank"}; !slices.Equal(names, want) {
		t.Errorf("app, granted read on bank alone, has the heaps %q in its own status; want %q", names, want)
	}
	// A server's status lists every heap.
	var all []string
	for _, h := range a.Status(ctx).Heaps {
		all = append(all, h.Name)
	}
	if !slices.Contains(all, "vault") {
		t.Errorf("a server's status lists %q, vault not among them", all)
	}
}
