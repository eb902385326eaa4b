package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// A node of a local cluster whose data is damaged refuses to start and
// says to move its directory aside and start it empty, joined to its
// peers. Done so with --data-dir (the directory of node1, the node that
// bootstrapped the world, moved aside, the window started again), the
// empty node1 bootstrapped a second cluster, and node2 was refused as a
// member of another one: the world would not start again, whatever the
// user did. An empty node now joins the nodes that hold the world, and
// the world is there, on it too.
func TestLocalNodeMovedAsideRejoinsTheWorld(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	o := localOptions{nodes: 3, dataDir: dir, port: freePorts(t, 3), logger: quiet}

	l, err := startLocal(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.nodes[0].CreateHeapIfNotExists(ctx, "wissenheim", &oss.HeapOptions{Replicas: 3})
	if err == nil {
		err = h.Update(ctx, func(tx *oss.Tx) error {
			ref, err := oss.New(tx, "left before the move")
			if err != nil {
				return err
			}
			return tx.SetRoot("marker", ref.ID)
		})
	}
	if err != nil {
		l.Close(ctx)
		t.Fatal(err)
	}
	// The process ends as a crash (or a power loss, what damages data)
	// ends it: the nodes hand nothing over.
	crashed, crash := context.WithCancel(ctx)
	crash()
	l.Close(crashed)
	if err := os.Rename(filepath.Join(dir, "node1"), filepath.Join(t.TempDir(), "node1.broken")); err != nil {
		t.Fatal(err)
	}

	l, err = startLocal(ctx, o)
	if err != nil {
		t.Fatalf("the local cluster with node1's directory moved aside: %v", err)
	}
	defer l.Close(ctx)
	for i, n := range l.nodes {
		h, err := n.CreateHeapIfNotExists(ctx, "wissenheim", nil)
		if err != nil {
			t.Fatalf("node%d: %v", i+1, err)
		}
		for {
			var got string
			err := h.View(ctx, func(tx *oss.Tx) error {
				id, err := tx.Root("marker")
				if err != nil {
					return err
				}
				got, err = oss.Get[string](tx, id)
				return err
			}, nil)
			if err == nil && got == "left before the move" {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("node%d never held the world's object: %v (%q)", i+1, err, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
