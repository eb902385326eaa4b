package oss_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// A node whose striped store lost its manifest (removed, or an older
// copy put back) while the log records a checkpoint in it is refused as
// damaged, naming the manifest's file: the refusal named the heap and
// the remedy, not the file that was gone.
func TestMissingManifestIsNamed(t *testing.T) {
	t.Parallel()
	fsys := persist.NewMemFS()
	cfg := func() *oss.Config {
		return &oss.Config{Name: "solo", DataDir: "/data/solo", FS: fsys, CheckpointEvery: 4, KeepEntries: 1, Logger: quietLogger()}
	}
	n, err := oss.Start(context.Background(), cfg())
	if err != nil {
		t.Fatal(err)
	}
	h := openBank(t, n)
	for i := range 20 {
		if err := put(h, uuid.New(), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	manifest := filepath.Join("/data/solo", "stripes", "MANIFEST")
	waitUntil(t, "a checkpoint", func() bool {
		f, err := fsys.Open(manifest)
		if err == nil {
			f.Close()
		}
		return err == nil
	})
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	n, err = oss.Start(context.Background(), cfg())
	if err == nil {
		crash(n)
		t.Fatal("started without the store's manifest")
	}
	if !errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), manifest) {
		t.Fatalf("start without the store's manifest: %v\nwant ErrCorrupt naming %s", err, manifest)
	}
}
