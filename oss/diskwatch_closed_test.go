package oss_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// A node's clean Close closes every file of its data directory: the
// disk watch holds each file from its open to its close, so one the
// node left open would stay open, descriptor and all, for the life of
// the process. Checked after a first run (the log written, the store's
// checkpoints) and after a restart (the log replayed, the store read).
func TestCloseLeavesNoFileOfTheDataDirectoryOpen(t *testing.T) {
	dir := t.TempDir()
	cfg := &oss.Config{Name: "solo", DataDir: dir, Durability: oss.DurabilitySync, Logger: quietLogger()}
	for run := range 2 {
		n, err := oss.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		h := openBank(t, n)
		for i := range 300 {
			if err := put(h, uuid.New(), int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if open := oss.OpenDataFilesForTest(n); len(open) > 0 {
			t.Fatalf("run %d: after Close the data directory's files %q are still open", run, open)
		}
	}
}
