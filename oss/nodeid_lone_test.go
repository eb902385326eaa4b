package oss_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// A node without a network (the library embedded, one process) whose
// NODE_ID was replaced by another such node's, or by any other valid ID,
// is refused at Start with an error naming the file. It registers itself
// in no catalog, so there is no record of its name to compare the ID
// with; but its catalog's group is its own, and the ID is not a member
// of it. Before, it started under the other ID, a member of none of its
// groups: no leader was ever elected, and every Heap call failed with
// "no leader in reach" until its context ended. Its own NODE_ID put
// back, it starts with every object.
func TestLoneNodeOnAnotherNodesIDIsRefusedAtStart(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	cfg := func(d string) *oss.Config {
		return &oss.Config{Name: "solo", DataDir: filepath.Join(base, d), Logger: quietLogger()}
	}
	ctx := context.Background()
	for _, d := range []string{"a", "b"} {
		n, err := oss.Start(ctx, cfg(d))
		if err != nil {
			t.Fatal(err)
		}
		probeFillNode(t, n, 10)
	}
	path := filepath.Join(base, "a", "NODE_ID")
	own, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(filepath.Join(base, "b", "NODE_ID"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, other, 0o600); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	n, err := oss.Start(sctx, cfg("a"))
	if err == nil {
		hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
		_, herr := n.Heap(hctx, "kv")
		hcancel()
		crash(n)
		t.Fatalf("a node on another node's NODE_ID started (its heap: %v)", herr)
	}
	if !errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("a node on another node's NODE_ID: %v; want ErrCorrupt naming %s", err, path)
	}
	if err := os.WriteFile(path, own, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err = oss.Start(sctx, cfg("a"))
	if err != nil {
		t.Fatalf("its own NODE_ID put back: %v", err)
	}
	defer crash(n)
	h, err := n.Heap(sctx, "kv")
	if err != nil {
		t.Fatal(err)
	}
	err = h.View(sctx, func(tx *oss.Tx) error {
		for i := range 10 {
			if _, err := tx.Root("k" + strconv.Itoa(i)); err != nil {
				return fmt.Errorf("root k%d: %w", i, err)
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}
