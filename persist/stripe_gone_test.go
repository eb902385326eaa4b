package persist

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stripe directory removed, or replaced by another (a disk unmounted
// lazily, a directory moved aside and made again), while the store runs
// leaves the stripe's open segment writable: its writes and syncs succeed
// on a file that no restart finds. A checkpoint then fails, naming the
// directory, and leaves the previous one standing, rather than storing
// objects where they are lost (and letting the node drop the log records
// that held them). The directory put back, the store opens at the
// previous checkpoint.
func TestStoreCheckpointRefusesAStripeDirectoryGoneWhileOpen(t *testing.T) {
	for _, c := range []struct {
		name string
		gone func(t *testing.T, dir string) (undo func())
	}{
		{"removed", func(t *testing.T, dir string) func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"replaced", func(t *testing.T, dir string) func() {
			if err := os.Rename(dir, dir+".away"); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(dir+".away", dir); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			var dirs []string
			for i := range 3 {
				dirs = append(dirs, filepath.Join(base, fmt.Sprint("s", i)))
			}
			s, err := OpenStore(OS{}, dirs)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if s != nil {
					s.Close()
				}
			}()
			checkpoint := func(version uint64) error {
				var objs []Object
				for i := range 60 {
					objs = append(objs, obj("bank", i, version, fmt.Sprint("v", version, "-", i)))
				}
				_, err := s.Checkpoint(objs, map[string][]byte{"bank": fmt.Append(nil, "meta", version)})
				return err
			}
			if err := checkpoint(1); err != nil {
				t.Fatal(err)
			}
			undo := c.gone(t, dirs[1])
			for range 2 {
				err := checkpoint(2)
				if err == nil || !strings.Contains(err.Error(), dirs[1]) {
					t.Fatalf("a checkpoint with stripe directory %s %s: %v", dirs[1], c.name, err)
				}
			}
			if got := string(s.Manifest().Spaces["bank"]); got != "meta1" {
				t.Fatalf("the failed checkpoints replaced the manifest: %q", got)
			}
			if undo == nil {
				return
			}
			undo()
			s.Close()
			if s, err = OpenStore(OS{}, dirs); err != nil {
				t.Fatalf("the store with the directory back: %v", err)
			}
			got := loadAll(t, s)
			for i := range 60 {
				o := obj("bank", i, 1, "")
				if g := got[storeKey{o.Space, o.ID}]; g.Version != 1 || string(g.Value) != fmt.Sprint("v1-", i) {
					t.Fatalf("object %d after the directory came back: version %d %q", i, g.Version, g.Value)
				}
			}
		})
	}
}
