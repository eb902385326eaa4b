package persist

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A store written without stripe identities (by a build before them)
// whose segments are numbered alike in every stripe, opened with two of
// its stripe directories swapped, is refused at open with an error that
// asks about mounts and order, and nothing is changed: opened in its
// order it loads whole. Before, the open took it, the load failed on a
// segment shorter than the manifest records with an error that asked for
// nothing but a rebuild of the replica, and a checkpoint on it would
// have written the swapped order into the stripes' identities for good.
func TestStoreWithoutIdentitiesRefusesSwappedStripesNumberedAlike(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")}
	s, err := OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(seq(60, "v1").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	m := s.Manifest()
	if m.Stripes[1][0].Name != m.Stripes[2][0].Name || m.Stripes[1][0].Size == m.Stripes[2][0].Size {
		t.Fatalf("stripes b and c: %+v and %+v, want one segment name and two sizes", m.Stripes[1], m.Stripes[2])
	}
	for _, d := range dirs {
		if err := os.Remove(filepath.Join(d, stripeFile)); err != nil {
			t.Fatal(err)
		}
	}
	before := listDirs(t, dirs)
	_, err = OpenStore(OS{}, []string{dirs[0], dirs[2], dirs[1]})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "mounted") || !strings.Contains(ce.Reason, "order") {
		t.Fatalf("b and c swapped: %v, want a *CorruptError that asks about mounts and order", err)
	}
	if after := listDirs(t, dirs); !slices.Equal(before, after) {
		t.Fatalf("the refused open changed the directories: %v, then %v", before, after)
	}
	s, err = OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatalf("in their order again: %v", err)
	}
	defer s.Close()
	checkStore(t, "in their order again", s, seq(60, "v1"))
}

// listDirs names every file of dirs, with its directory.
func listDirs(t *testing.T, dirs []string) []string {
	t.Helper()
	var all []string
	for _, d := range dirs {
		names, err := OS{}.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			all = append(all, filepath.Join(d, n))
		}
	}
	return all
}
