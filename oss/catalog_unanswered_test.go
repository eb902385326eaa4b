package oss_test

import (
	"context"
	"errors"
	"slices"
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
	var cut string
	c.Wait("a catalog of three voters with a leader", func() bool {
		for _, h := range c.Node("n1").Status(context.Background()).Heaps {
			if h.Name == "oss:catalog" && len(h.Voters) == 3 && h.Leader != "" && !h.Joint {
				cut = "n1"
				if h.Leader == cut {
					cut = "n2"
				}
				return true
			}
		}
		return false
	})
	others := slices.DeleteFunc([]string{"n1", "n2", "n3"}, func(n string) bool { return n == cut })
	c.Partition([]string{cut}, others)
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
