package persist

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A store refused for its directories creates none of them: a missing
// directory (its disk not mounted, its mount point gone) stays missing,
// whether OpenStore or CheckStripeDirs refuses. Before, OpenStore created
// every directory first and then refused them.
func TestRefusedStoreCreatesNoDirectory(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	s, err := OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(seq(40, "v").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The first directory is missing; the second still says it is stripe
	// 2 of 2.
	missing := []string{filepath.Join(root, "gone"), dirs[1]}
	if err := CheckStripeDirs(OS{}, missing); !errors.Is(err, ErrStripeDirs) {
		t.Fatalf("CheckStripeDirs with the first stripe missing: %v; want ErrStripeDirs", err)
	}
	if s, err := OpenStore(OS{}, missing); !errors.Is(err, ErrStripeDirs) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("OpenStore with the first stripe missing: %v; want ErrStripeDirs", err)
	}
	if _, err := os.Stat(missing[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused open left %s behind (%v)", missing[0], err)
	}
	if err := CheckStripeDirs(OS{}, dirs); err != nil {
		t.Fatalf("CheckStripeDirs of the store's own directories: %v", err)
	}
}
