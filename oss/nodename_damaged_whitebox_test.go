package oss

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A data directory whose NODE_NAME names no node (emptied or overwritten
// by something other than a node) is damaged, and said to be: it was
// refused as "node ""'s, not "n3"'s", with the advice to start "" on
// it. It is refused as damage naming the file, and the node starts once
// the file is removed (the name is recorded anew).
func TestDamagedNodeNameIsDamage(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	for _, bad := range []string{"", "\n", "\x00\x00\x00", "not a name!"} {
		fsys := persist.NewMemFS()
		n, err := Start(ctx, &Config{Name: "n3", DataDir: "d", FS: fsys, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := persist.WriteFileAtomic(fsys, "d", nodeNameFile, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		n, err = Start(ctx, &Config{Name: "n3", DataDir: "d", FS: fsys, Logger: testLogger()})
		if err == nil {
			n.Close(ctx)
			t.Fatalf("NODE_NAME %q: started", bad)
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Join("d", nodeNameFile)) || strings.Contains(err.Error(), `start "`) {
			t.Errorf("NODE_NAME %q: %v\nwant the damage named, with its file", bad, err)
		}
		if err := fsys.Remove(filepath.Join("d", nodeNameFile)); err != nil {
			t.Fatal(err)
		}
		n, err = Start(ctx, &Config{Name: "n3", DataDir: "d", FS: fsys, Logger: testLogger()})
		if err != nil {
			t.Fatalf("NODE_NAME %q removed: %v", bad, err)
		}
		n.Close(ctx)
	}
}
