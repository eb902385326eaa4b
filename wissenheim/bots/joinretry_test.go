package bots_test

import (
	"context"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/bots"
	"github.com/objectsharing/oss/wissenheim/internal/cluster"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// Bots started on a node cut off from the world heap's leader join once
// it is back in reach: a join that fails with no leader in reach, or
// with an unknown outcome, is tried again (an avatar an unknown join did
// create is reaped when its lease runs out, and its name is then free),
// where Start gave up on the first and a loaded machine's election
// failed the whole swarm.
func TestBotsJoinOnceTheLeaderIsBackInReach(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, &cluster.Options{Dir: t.TempDir(), Durability: oss.DurabilityBatch, Logger: quiet(), Relays: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	hs, err := c.Heap(ctx, "wissenheim")
	if err != nil {
		t.Fatal(err)
	}
	spec := scene.DemoSpec(8)
	spec.Lease = 2 * time.Second
	w, err := scene.Create(ctx, hs[0], spec)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(runCtx) }()
	defer func() { stopRun(); recv(t, ran, "the world to stop running") }()

	// Node 1 alone, the others together: whoever leads the heap, node 1
	// has no leader in reach until the partition heals.
	c.Partition([]int{0}, []int{1, 2})
	healed := make(chan struct{})
	go func() {
		defer close(healed)
		select {
		case <-time.After(12 * time.Second):
		case <-ctx.Done():
		}
		c.Partition([]int{0, 1, 2})
	}()
	defer func() { recv(t, healed, "the partition to heal") }()
	s, err := bots.Start(ctx, w, &bots.Config{N: 4, Prefix: "cut", Seed: 1, Speed: 3})
	if err != nil {
		t.Fatalf("bots on a node whose leader was out of reach for 12 s: %v", err)
	}
	s.Stop()
}
