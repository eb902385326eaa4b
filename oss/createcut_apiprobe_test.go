package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
)

// CreateHeap on a node cut off from the catalog's leader waits for one
// as long as its ctx lets it, as Heap and CreateHeapIfNotExists do: a try
// whose outcome was unknown (proposed as the cut began) is tried again,
// and once the cut heals the call creates the heap. It used to fail with
// ErrCommitUnknown four election timeouts (the engine's NoLeaderTicks)
// into the cut.
func TestAPIProbeCreateHeapOnCutOffNodeWaits(t *testing.T) {
	t.Parallel()
	c, _ := probeCluster(t)
	cut := cutCatalogVoter(c)
	n := c.Node(cut)
	before, _, _ := n.ReplicaStats("oss:catalog")
	type result struct {
		h   *oss.Heap
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h, err := n.CreateHeap(ctx, "new", nil)
		done <- result{h, err}
	}()
	c.Wait("the cut node's creation of unknown outcome", func() bool {
		s, _, _ := n.ReplicaStats("oss:catalog")
		return s.Unknown > before.Unknown
	})
	c.Heal()
	r := await.Recv(t, done, "CreateHeap on the healed node to return")
	if r.err != nil || r.h == nil {
		t.Fatalf("CreateHeap on a node cut off until after a try of unknown outcome: %v, %v; want the heap", r.h, r.err)
	}
	if _, err := c.Node(cut).CreateHeap(context.Background(), "new", nil); !errors.Is(err, oss.ErrHeapExists) {
		t.Errorf("CreateHeap again: %v, want ErrHeapExists", err)
	}
}
