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

// A node whose write-ahead log is gone, or emptied, while its identity
// (NODE_ID) and its striped store remain, refuses to start with an error
// that names the log and says how to rebuild. Before, it started as the
// member it was, under its raft ID, with none of its replicas: a lone node
// bootstrapped a new, empty cluster; a node in a cluster rejoined its
// groups having forgotten what it acknowledged (raft panicked on the
// leader's first heartbeat).
func TestLostLogRefusesToStart(t *testing.T) {
	const dir, wal = "/data/solo", "/data/solo/wal"
	for _, c := range []struct {
		name       string
		checkpoint int // Config.CheckpointEvery; 0: none is taken
		damage     func(mem *persist.MemFS, segs []string)
	}{
		{"segments removed", 0, func(mem *persist.MemFS, segs []string) {
			for _, s := range segs {
				mem.Remove(s)
			}
		}},
		{"segments removed, store kept", 4, func(mem *persist.MemFS, segs []string) {
			for _, s := range segs {
				mem.Remove(s)
			}
		}},
		{"segments emptied, store kept", 4, func(mem *persist.MemFS, segs []string) {
			for _, s := range segs {
				f, _ := mem.Create(s)
				f.Sync()
				f.Close()
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := persist.NewMemFS()
			cfg := oss.Config{Name: "solo", DataDir: dir, FS: mem, CheckpointEvery: c.checkpoint, Logger: quietLogger()}
			n, err := oss.Start(context.Background(), &cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := openBank(t, n)
			for i := range 20 {
				if err := put(h, uuid.New(), int64(i)); err != nil {
					t.Fatal(err)
				}
			}
			crash(n)
			names, _ := mem.ReadDir(wal)
			var segs []string
			for _, name := range names {
				if strings.HasSuffix(name, ".wal") {
					segs = append(segs, filepath.Join(wal, name))
				}
			}
			if stripes, _ := mem.ReadDir(filepath.Join(dir, "stripes")); c.checkpoint > 0 && len(stripes) < 2 {
				t.Fatalf("no checkpoint was written: %v", stripes)
			}
			c.damage(mem, segs)
			n, err = oss.Start(context.Background(), &cfg)
			if err == nil {
				hs := n.Heaps()
				crash(n)
				t.Fatalf("a node whose log was lost started, with heaps %v", hs)
			}
			if !errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), wal) || !strings.Contains(err.Error(), "Join") {
				t.Fatalf("a node whose log was lost: %v", err)
			}
		})
	}
}
