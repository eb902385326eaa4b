package oss

import (
	"context"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// CreateHeap whose first try reached the catalog's leader and committed,
// but whose node heard nothing back (an unknown outcome), tries again
// once it hears the cluster, finds the entry that try proposed, and
// returns the heap it created: not ErrHeapExists, and not the unknown
// outcome it returned before it tried again.
func TestAPIProbeCreateHeapFindsItsOwnUnknownTry(t *testing.T) {
	t.Parallel()
	c, deaf, armed := deafNodes(t, 43, false)
	lead, x := waitCatalogKnown(t, c)
	seen := onFirstUnknown(c.nodes[x], func() {})
	armed.Store(&x) // deaf once its proposal reached another node
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // a bound against a hang
		defer cancel()
		h, err := c.nodes[x].CreateHeap(ctx, "made", nil)
		if err == nil && h == nil {
			err = errDeaf
		}
		done <- err
	}()
	waitCond(t, "the entry on the catalog's leader and a try of unknown outcome", func() bool {
		_, ok := c.nodes[lead].catalogEntry("made")
		return ok && seen()
	})
	deaf[x].Store(false)
	if err := await.Recv(t, done, "CreateHeap to return"); err != nil {
		t.Fatalf("CreateHeap whose try of unknown outcome created the heap: %v, want the heap", err)
	}
}
