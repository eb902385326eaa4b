package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// "ossd run" with the node's --stripe-dirs in another order fails, naming
// a directory and saying to start with them in their order, and does not
// point to --rebuild-replica, which would throw the node's replicas away
// when nothing is damaged.
func TestRunRefusesStripeDirsInAnotherOrder(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	data, a, b := filepath.Join(base, "n1"), filepath.Join(base, "a"), filepath.Join(base, "b")
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", DataDir: data, StripeDirs: []string{a, b}, CheckpointEvery: 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := h.Update(ctx, func(tx *oss.Tx) error { _, err := oss.New(tx, int64(i)); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	err = dispatch([]string{"run", "--name", "n1", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--certs", probeCerts(t), "--data-dir", data, "--stripe-dirs", b + "," + a})
	if err == nil || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "--stripe-dirs") || strings.Contains(err.Error(), "--rebuild-replica") {
		t.Fatalf("run with --stripe-dirs b,a: %v, want an error naming %s and --stripe-dirs, not --rebuild-replica", err, b)
	}
}
