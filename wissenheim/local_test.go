package main

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// TestWorldOutlivesTheCluster moves a box in a local cluster started with
// a data directory, stops every node, starts the cluster again on the same
// directory, and finds the box where it was left.
func TestWorldOutlivesTheCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	o := localOptions{nodes: 3, dataDir: dir, port: freePorts(t, 3), logger: quiet}
	open := func() (*local, *scene.World) {
		t.Helper()
		l, err := startLocal(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		h, err := l.nodes[0].CreateHeapIfNotExists(ctx, "wissenheim", &oss.HeapOptions{Replicas: 3})
		if err != nil {
			l.Close(ctx)
			t.Fatal(err)
		}
		w, err := scene.Create(ctx, h, &scene.Spec{Rooms: []scene.RoomSpec{{Name: "hall", Size: scene.Vec{X: 10, Y: 10},
			Props: []scene.PropSpec{{Kind: scene.Box, Name: "crate", Pos: scene.Vec{X: 3, Y: 3}}}}}})
		if err != nil {
			l.Close(ctx)
			t.Fatal(err)
		}
		return l, w
	}
	crate := func(w *scene.World) scene.PropState {
		t.Helper()
		s, err := w.Snapshot(ctx, "hall")
		if err != nil {
			t.Fatal(err)
		}
		return s.Props[0]
	}

	l, w := open()
	a, err := w.Join(ctx, "mover", &scene.JoinOptions{At: &scene.Vec{X: 2.5, Y: 3}})
	if err != nil {
		l.Close(ctx)
		t.Fatal(err)
	}
	id := crate(w).ID
	steps := []func() error{
		func() error { return a.PickUp(ctx, id) },
		func() error { return a.Move(ctx, scene.Vec{X: 0.4, Y: 0.3}) },
		func() error { return a.Move(ctx, scene.Vec{X: 0.4, Y: 0.3}) },
		func() error { return a.Move(ctx, scene.Vec{X: 0.4, Y: 0.3}) },
		func() error { return a.Drop(ctx) },
		func() error { return a.Leave(ctx) },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			l.Close(ctx)
			t.Fatalf("step %d: %v", i, err)
		}
	}
	left := crate(w)
	if left.Holder != uuid.Nil || left.Pos == (scene.Vec{X: 3, Y: 3}) {
		l.Close(ctx)
		t.Fatalf("the crate did not move: %+v", left)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}

	l, w = open()
	defer l.Close(ctx)
	if got := crate(w); got.Pos != left.Pos || got.ID != id {
		t.Fatalf("after a restart the crate is at %v, left at %v", got.Pos, left.Pos)
	}
}
