package oss_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// treeOf is every file and directory under root: its path, kind and
// permissions, and a file's bytes.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		desc := info.Mode().String()
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		}
		tree[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// treeChanges lists what differs between two trees.
func treeChanges(before, after map[string]string) []string {
	var out []string
	for p, d := range after {
		if b, ok := before[p]; !ok {
			out = append(out, "added "+p)
		} else if b != d {
			out = append(out, "changed "+p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, "removed "+p)
		}
	}
	slices.Sort(out)
	return out
}

// A start refused for its stripe directories (persist.ErrStripeDirs: one
// missing, empty as a disk not mounted, listed in another order, or of
// another store) leaves every directory exactly as it found it. Before,
// the node took each stripe directory's lock first, writing a LOCK file
// into an empty one (and creating a missing one of a new node) before the
// store refused them: the operator then mounted the disk over a directory
// holding our file, or saw a mount point that looked used.
func TestRefusedStripeDirsLeftUntouched(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	ref, other := filepath.Join(base, "ref"), filepath.Join(base, "other")
	for _, dir := range []string{ref, other} {
		n, err := stripedStart(dir)
		if err != nil {
			t.Fatal(err)
		}
		probeFillNode(t, n, 60)
	}
	// s is the stripe directory i of dir.
	s := func(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("s%d", i)) }
	// unmount leaves an empty directory where dir's stripe i was.
	unmount := func(dir string, i int) {
		if err := os.Rename(s(dir, i), s(dir, i)+".away"); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(s(dir, i), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// foreign puts other's stripe i where dir's was, as a disk of another
	// store restored without its LOCK file.
	foreign := func(dir string, i int) {
		if err := os.RemoveAll(s(dir, i)); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(s(dir, i), os.DirFS(s(other, i))); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(s(dir, i), "LOCK"))
	}
	for _, c := range []struct {
		name    string
		data    string // the data directory, in the case's directory
		damage  func(dir string)
		stripes []int // the stripe directories listed, by number
	}{
		{"second not mounted", "data", func(dir string) { unmount(dir, 1) }, []int{0, 1, 2}},
		{"first not mounted", "data", func(dir string) { unmount(dir, 0) }, []int{0, 1, 2}},
		{"third missing", "data", func(dir string) { os.RemoveAll(s(dir, 2)) }, []int{0, 1, 2}},
		{"reordered", "data", func(string) {}, []int{1, 0, 2}},
		{"third foreign", "data", func(dir string) { foreign(dir, 2) }, []int{0, 1, 2}},
		{"a new node, the first missing, the second foreign", "new", func(dir string) {
			os.RemoveAll(s(dir, 0))
			foreign(dir, 1)
		}, []int{0, 1, 2}},
	} {
		dir := filepath.Join(base, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.CopyFS(dir, os.DirFS(ref)); err != nil {
			t.Fatal(err)
		}
		c.damage(dir)
		if c.data == "new" {
			// The node's data directory exists, empty: a new node.
			if err := os.MkdirAll(filepath.Join(dir, c.data), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		var stripes []string
		for _, i := range c.stripes {
			stripes = append(stripes, s(dir, i))
		}
		before := treeOf(t, dir)
		n, err := oss.Start(context.Background(), &oss.Config{Name: "probe", DataDir: filepath.Join(dir, c.data), StripeDirs: stripes, Logger: quietLogger()})
		if err == nil {
			n.Close(context.Background())
			t.Fatalf("%s: the node started", c.name)
		}
		if !errors.Is(err, persist.ErrStripeDirs) {
			t.Errorf("%s: %v; want ErrStripeDirs", c.name, err)
		}
		if ch := treeChanges(before, treeOf(t, dir)); len(ch) > 0 {
			t.Errorf("%s: the refused start changed the directories: %v (%v)", c.name, ch, err)
		}
	}
}
