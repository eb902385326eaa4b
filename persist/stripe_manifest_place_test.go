package persist

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A store written without stripe identities, opened with its first
// directory (the one holding the manifest) listed in another place, is
// refused with ErrStripeDirs and nothing is changed: listed in its order
// it loads whole. Before, the open took it for an empty store, and its
// first checkpoint would have written the swapped order into the stripes'
// identities and a manifest of nothing but itself.
func TestStoreRefusesItsManifestInAnotherStripe(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	s, err := OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(seq(40, "v1").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if err := os.Remove(filepath.Join(d, stripeFile)); err != nil {
			t.Fatal(err)
		}
	}
	before := listDirs(t, dirs)
	if _, err := OpenStore(OS{}, []string{dirs[1], dirs[0]}); !errors.Is(err, ErrStripeDirs) {
		t.Fatalf("the first directory listed second: %v, want ErrStripeDirs", err)
	}
	if after := listDirs(t, dirs); !slices.Equal(before, after) {
		t.Fatalf("the refused open changed the directories: %v, then %v", before, after)
	}
	s, err = OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatalf("in their order again: %v", err)
	}
	defer s.Close()
	checkStore(t, "in their order again", s, seq(40, "v1"))
}
