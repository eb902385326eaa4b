package oss

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A heap dropped, or a node closed, while the heap is asked to let go of
// the log (its hard state about to be logged again, or in flight): the
// close does not hang, nothing leaks, and a restart finds the dropped
// heaps gone and the busy heap with every commit.
func TestHeapDroppedWhileItLetsGoOfTheLog(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	mem := persist.NewMemFS()
	start := func() (*Node, *Heap) {
		t.Helper()
		return startBusy(t, &Config{DataDir: "/data", FS: mem, Logger: testLogger(), TickInterval: 10 * time.Millisecond,
			CheckpointEvery: 64, KeepEntries: 16, walSegmentBytes: 32 << 10})
	}
	n, h := start()
	next := 0
	commit := func() {
		t.Helper()
		id, v := relogPut(next)
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		next++
	}
	const rounds = 5
	for r := range rounds {
		name := fmt.Sprintf("idle%d", r)
		idle, err := n.CreateHeapIfNotExists(ctx, name, nil)
		if err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		id, v := relogPut(60000 + r)
		if err := update(ctx, idle, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		// The busy heap fills segments until the idle one is asked.
		for i := 0; idle.unpin.Load() == 0; i++ {
			if i == 20000 {
				n.Close(ctx)
				t.Fatalf("%s was never asked to let go of the log", name)
			}
			commit()
		}
		// Odd rounds drop it once its loop took the ask: its hard state
		// logged again is in flight, or just logged, and its checkpoint
		// under way.
		for i := 0; r%2 == 1 && idle.unpin.Load() != 0; i++ {
			if i == 20000 {
				n.Close(ctx)
				t.Fatalf("%s never took the ask", name)
			}
			commit()
		}
		if r == rounds-1 {
			break // the last is closed with the node
		}
		mustDrop(t, n, name)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, h = start()
	defer n.Close(ctx)
	for r := range rounds - 1 {
		if n.replicaOf(fmt.Sprintf("idle%d", r)) != nil {
			t.Errorf("idle%d, dropped, is back after a restart", r)
		}
	}
	if n.replicaOf(fmt.Sprintf("idle%d", rounds-1)) == nil {
		t.Errorf("idle%d is gone after a restart", rounds-1)
	}
	if err := h.View(ctx, func(tx *Tx) error {
		for j := range next {
			id, _ := relogPut(j)
			if _, err := Get[[]byte](tx, id); err != nil {
				return err
			}
		}
		return nil
	}, nil); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
