package oss_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// stripedStart starts a durable node on base/data with the stripe
// directories base/s0, base/s1, base/s2.
func stripedStart(base string) (*oss.Node, error) {
	var stripes []string
	for i := range 3 {
		stripes = append(stripes, filepath.Join(base, "s"+strconv.Itoa(i)))
	}
	return oss.Start(context.Background(), &oss.Config{Name: "probe", DataDir: filepath.Join(base, "data"), StripeDirs: stripes, CheckpointEvery: 20, Logger: quietLogger()})
}

// firstSegment returns the path of the first segment in dir.
func firstSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segment in %s: %v", dir, err)
	}
	return segs[0]
}

// A node whose stripes were damaged while it was down refuses to start
// with an error that names the file or directory: a segment with a
// flipped byte or cut short (ErrCorrupt), a stripe directory that is empty
// or gone (a disk not mounted, persist.ErrStripeDirs), the first stripe
// directory empty. Those
// whose disk comes back start again with every object, so the refused
// start changed nothing in them.
func TestProbeDamagedStripesRefuseToStart(t *testing.T) {
	t.Parallel()
	const count = 120
	base := t.TempDir()
	ref := filepath.Join(base, "ref")
	fill := func() {
		n, err := stripedStart(ref)
		if err != nil {
			t.Fatal(err)
		}
		probeFillNode(t, n, count)
	}
	fill()
	unmount := func(s string) func(dir string) (string, func() error) {
		return func(dir string) (string, func() error) {
			d := filepath.Join(dir, s)
			if err := os.Rename(d, d+".away"); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			return d, func() error {
				if err := os.RemoveAll(d); err != nil {
					return err
				}
				return os.Rename(d+".away", d)
			}
		}
	}
	for _, c := range []struct {
		name    string
		corrupt bool
		damage  func(dir string) (named string, undo func() error)
	}{
		{"flipped byte", true, func(dir string) (string, func() error) {
			seg := firstSegment(t, filepath.Join(dir, "s1"))
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x10
			if err := os.WriteFile(seg, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return seg, nil
		}},
		{"cut short", true, func(dir string) (string, func() error) {
			seg := firstSegment(t, filepath.Join(dir, "s2"))
			fi, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(seg, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			return seg, nil
		}},
		// An empty stripe directory is a disk not mounted
		// (ErrStripeDirs), not ErrCorrupt, whose remedy would throw the
		// replica away.
		{"second not mounted", false, unmount("s1")},
		{"third gone", false, func(dir string) (string, func() error) {
			d := filepath.Join(dir, "s2")
			if err := os.Rename(d, d+".away"); err != nil {
				t.Fatal(err)
			}
			return d, func() error {
				// The refused start made nothing in its place: not the
				// directory, not a LOCK file below a mount point.
				if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("the refused start left %s behind (%v)", d, err)
				}
				if err := os.RemoveAll(d); err != nil {
					return err
				}
				return os.Rename(d+".away", d)
			}
		}},
		{"first not mounted", false, unmount("s0")},
	} {
		dir := filepath.Join(base, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.CopyFS(dir, os.DirFS(ref)); err != nil {
			t.Fatal(err)
		}
		named, undo := c.damage(dir)
		n, err := stripedStart(dir)
		if err == nil {
			got := probeCount(t, n, count)
			n.Close(context.Background())
			t.Fatalf("%s: the node started, with %d of %d acknowledged objects", c.name, got, count)
		}
		if !strings.Contains(err.Error(), named) || errors.Is(err, oss.ErrCorrupt) != c.corrupt {
			t.Errorf("%s: %v, want an error naming %s (ErrCorrupt: %v)", c.name, err, named, c.corrupt)
		}
		if undo == nil {
			continue
		}
		if err := undo(); err != nil {
			t.Fatal(err)
		}
		n, err = stripedStart(dir)
		if err != nil {
			t.Fatalf("%s, the disk back: %v", c.name, err)
		}
		if got := probeCount(t, n, count); got != count {
			t.Errorf("%s, the disk back: %d of %d objects read back", c.name, got, count)
		}
		n.Close(context.Background())
	}
}

// probeFillNode is probeFill on a node already started; it closes it.
func probeFillNode(t *testing.T, n *oss.Node, count int) {
	t.Helper()
	ctx := context.Background()
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range count {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			r, err := oss.New(tx, int64(i))
			if err != nil {
				return err
			}
			return tx.SetRoot("k"+strconv.Itoa(i), r.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// A node restarted with two of its three stripe directories swapped, after
// one of them failed a checkpoint's sync (so that it went on in a segment
// the others do not have), refuses to start, naming a directory, and
// starts whole with them in their order. Before, the refused start removed
// the segments of one directory that the manifest lists for the other as
// garbage: put back in order, the node refused to start again, that
// stripe's checkpointed objects gone from the node for good.
func TestProbeSwappedStripesKeepTheirSegments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	stripes := []string{filepath.Join(base, "s0"), filepath.Join(base, "s1"), filepath.Join(base, "s2")}
	ffs := &persist.FaultFS{FS: persist.OS{}}
	failed := &atomic.Int64{}
	start := func(fsys persist.FS, stripes []string) (*oss.Node, error) {
		return oss.Start(ctx, &oss.Config{Name: "probe", DataDir: filepath.Join(base, "data"), StripeDirs: stripes, FS: fsys, CheckpointEvery: 20, Logger: slog.New(failedCheckpoints{failed})})
	}
	n, err := start(ffs, stripes)
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	commit := func() bool {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			r, err := oss.New(tx, int64(count))
			if err != nil {
				return err
			}
			return tx.SetRoot("k"+strconv.Itoa(count), r.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		count++
		return true
	}
	waitUntil(t, "a checkpoint", func() bool { return commit() && checkpointsStored(t, n) > 0 })
	ffs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpSync && strings.HasPrefix(name, stripes[1]+"/") {
			return syscall.EIO
		}
		return nil
	})
	waitUntil(t, "a failed checkpoint", func() bool { return commit() && failed.Load() > 0 })
	ffs.SetRule(nil)
	stored := checkpointsStored(t, n)
	waitUntil(t, "a checkpoint after it", func() bool { return commit() && checkpointsStored(t, n) > stored })
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err = start(nil, []string{stripes[0], stripes[2], stripes[1]}); err == nil {
		got := probeCount(t, n, count)
		n.Close(ctx)
		t.Fatalf("started with stripes s1 and s2 swapped, with %d of %d objects", got, count)
	}
	if !strings.Contains(err.Error(), stripes[1]) && !strings.Contains(err.Error(), stripes[2]) {
		t.Errorf("swapped: %v, want an error naming s1 or s2", err)
	}
	if n, err = start(nil, stripes); err != nil {
		t.Fatalf("in their order again: %v", err)
	}
	defer n.Close(ctx)
	if got := probeCount(t, n, count); got != count {
		t.Fatalf("in their order again: %d of %d objects read back", got, count)
	}
}
