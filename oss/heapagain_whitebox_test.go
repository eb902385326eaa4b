package oss

import (
	"context"
	"testing"
	"time"

	"github.com/objectsharing/oss/persist"
	"go.uber.org/goleak"
)

// TestHeapOfAnOpenHeapDecodesNoEntry: Heap on a heap the node has open
// (the admin interface calls it on every request) read and decoded the
// heap's catalog entry at each call, to check that the replica is not an
// earlier heap of the name (closedAsStale): about 12 allocations and ten
// times the time of the call without it. The check is done once for each
// state of the catalog. Allocations are counted over many calls, so the
// node's own work meanwhile does not make up for the decoding.
func TestHeapOfAnOpenHeapDecodesNoEntry(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startDurable(t, 89, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := n.CreateHeap(ctx, "B", nil); err != nil {
		t.Fatal(err)
	}
	if avg := testing.AllocsPerRun(2000, func() {
		if _, err := n.Heap(ctx, "B"); err != nil {
			t.Fatal(err)
		}
	}); avg >= 4 {
		t.Fatalf("Heap on an open heap: %.0f allocations a call; want the catalog entry checked once per catalog state, not decoded at each call", avg)
	}
}

// BenchmarkHeapOpenAgain is Heap on a heap the node has open.
func BenchmarkHeapOpenAgain(b *testing.B) {
	c := startTestNodesWith(b, 5, nil)
	c.fss["solo"] = persist.NewMemFS()
	c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
	n := c.nodes["solo"]
	ctx := context.Background()
	if _, err := n.CreateHeap(ctx, "B", nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Heap(ctx, "B"); err != nil {
			b.Fatal(err)
		}
	}
}
