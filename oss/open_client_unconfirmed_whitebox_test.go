package oss

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// A client node's open of a heap its catalog replica does not yet grant
// it waits for the catalog's leader as every open does: Heap asks again
// while the catalog has no leader in reach, until one answers or ctx
// ends, and a ctx that ends first is an error matching ErrNoQuorum
// (nothing was done; the grant could not be read), never ErrPermission.
// The client's check of its grants asked once: it failed with the
// context's error alone when ctx ended first, and with ErrNoQuorum at the
// first leaderless timeout however long ctx had left, so a client cut
// off from the catalog for a moment failed an open that the cut's end
// would have let through.
func TestClientOpenWaitsForTheCatalogToConfirmItsGrant(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 23, "a")
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.nodes["a"].CreateHeap(ctx, "h", nil); err != nil {
		t.Fatalf("create: %v", err)
	}
	app := c.nodes["app"]
	c.net.Partition([]string{"app"}, []string{"a"})
	// Granted while the client is cut off: its catalog replica denies
	// until it hears the catalog's leader again.
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "h", Perm: PermRead})

	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := app.Heap(short, "h")
	cancelShort()
	if !errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrPermission) {
		t.Fatalf("Heap on a client cut off from the catalog, its ctx ended first: %v; want an error matching ErrNoQuorum", err)
	}

	healed := make(chan struct{})
	go func() {
		defer close(healed)
		// Past the leaderless timeout (NoLeaderTicks) of the client's
		// catalog replica: an open that asks once has failed by then.
		time.Sleep(2 * time.Second)
		c.net.Heal()
	}()
	h, err := app.Heap(ctx, "h")
	await.Recv(t, healed, "the partition to heal")
	if err != nil {
		t.Fatalf("Heap on a client cut off from the catalog for a moment: %v; want the heap once the cut heals", err)
	}
	if err := h.View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true}); err != nil {
		t.Fatalf("a fresh view of the heap opened: %v", err)
	}
}
