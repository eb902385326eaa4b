package main

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// "ossd ca init" syncs the parent of every directory on --dir's path,
// those it makes and those there before: it synced the files in the CA
// directory and the directory itself, never its parent, so a power loss
// could take the whole CA directory back.
func TestCAInitSyncsDirectoryParents(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	var mu sync.Mutex
	var synced []string
	old := syncDir
	t.Cleanup(func() { syncDir = old })
	syncDir = func(dir string) error {
		mu.Lock()
		synced = append(synced, dir)
		mu.Unlock()
		return old(dir)
	}
	if err := os.Mkdir("pki", 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("pki", "new", "certs")
	if err := dispatch([]string{"ca", "init", "--dir", dir}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".", "pki", filepath.Join("pki", "new"), dir} {
		if !slices.Contains(synced, want) {
			t.Errorf("synced %q: not %s", synced, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
}
