package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/client"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// A player whose avatar was removed while it stood still (its lease ran
// out while its node was cut off, and another node reaped it) joins
// again without a key pressed: it used to notice only at its next move,
// and until then the others did not see it at all.
func TestIdlePlayerWhoseAvatarWasReapedJoinsAgain(t *testing.T) {
	ctx := context.Background()
	node, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	h, err := node.CreateHeap(ctx, "world", nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := &scene.Spec{Name: "w", Lease: 2 * time.Second, Rooms: []scene.RoomSpec{{Name: "yard", Size: scene.Vec{X: 10, Y: 10}}}}
	// The player's World runs nothing, as a node cut off from its
	// cluster renews nothing; the other node's World keeps the clock and
	// reaps.
	mine, err := scene.Create(ctx, h, spec)
	if err != nil {
		t.Fatal(err)
	}
	other, err := scene.Open(ctx, h, "w")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- other.Run(runCtx) }()
	defer func() { stop(); recv(t, ran, "the other world to stop running") }()

	p, err := client.Join(ctx, mine, "ann", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	first := p.ID()
	for deadline := time.Now().Add(recvDeadline); ; time.Sleep(20 * time.Millisecond) {
		s, err := other.Snapshot(ctx, "yard")
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Avatars) == 1 && s.Avatars[0].Name == "ann" && s.Avatars[0].ID != first {
			break // reaped, and back
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle player's avatar was not back within %v: the room holds %+v (first avatar %v)", recvDeadline, s.Avatars, first)
		}
	}
}
