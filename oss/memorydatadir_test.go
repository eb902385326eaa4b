package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// A node started with DurabilityMemory on a data directory that holds a
// durable node's data is refused, saying why and what to do: it would
// leave the data unread and start empty, as a new member (a new cluster
// without Join), where Config.DataDir promises a node restarted on it
// recovers its replicas. It used to start so, silently. The data is
// untouched: the node started again durable recovers it. A memory node
// on an empty directory, or one a memory node used, still starts.
func TestMemoryNodeRefusesADurableNodesDataDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	start := func(d oss.Durability) (*oss.Node, error) {
		return oss.Start(ctx, &oss.Config{DataDir: dir, Durability: d, Logger: quietLogger()})
	}
	mem, err := start(oss.DurabilityMemory)
	if err != nil {
		t.Fatalf("a memory node on an empty directory: %v", err)
	}
	mem.Close(ctx)
	if mem, err = start(oss.DurabilityMemory); err != nil {
		t.Fatalf("a memory node on a memory node's directory: %v", err)
	}
	mem.Close(ctx)

	n, err := start(oss.DurabilitySync)
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeap(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, 42) }); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if mem, err = start(oss.DurabilityMemory); err == nil {
		mem.Close(ctx)
		t.Fatal("a memory node started on a durable node's data directory")
	}
	if !errors.Is(err, oss.ErrInvalidArgument) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "DurabilitySync") {
		t.Errorf("a memory node on a durable node's data directory: %v; want ErrInvalidArgument naming the directory and the remedy", err)
	}
	if n, err = start(oss.DurabilityDefault); err != nil {
		t.Fatalf("the durable node again: %v", err)
	}
	defer n.Close(ctx)
	if h, err = n.Heap(ctx, "kv"); err != nil {
		t.Fatal(err)
	}
	err = h.View(ctx, func(tx *oss.Tx) error {
		v, err := oss.Get[int](tx, id)
		if err == nil && v != 42 {
			t.Errorf("read back %d, want 42", v)
		}
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}
