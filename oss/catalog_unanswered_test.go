package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Heap of a name the local catalog replica does not know, on a node cut
// off a moment ago, waits for the catalog's read index; its replica does
// not yet count its leader as out of reach, so nothing fails the read
// before the caller's context ends. The call then returns what its doc
// promises when ctx ends first, an error matching ErrNoQuorum (and the
// context's error), not the context's error alone.
func TestHeapOnAFreshlyCutNodeEndsWithNoQuorum(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 3, &osstest.Options{Seed: 11})
	cut := cutCatalogVoter(c)
	defer c.Heal()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := c.Node(cut).Heap(ctx, "nowhere")
		cancel()
		if !errors.Is(err, oss.ErrNoQuorum) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, oss.ErrNoHeap) {
			t.Fatalf("try %d: Heap on a node cut off a moment ago: %v; want ErrNoQuorum and the context's error", i, err)
		}
	}
}
