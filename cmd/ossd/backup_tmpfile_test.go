package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// Two "heaps backup" runs to one --out FILE (a scheduled one and an
// operator's) both wrote FILE.tmp: the second truncated the first's
// file, both wrote into the one file, the first renamed it FILE and said
// it backed up its heap, the other failed saying FILE was left as it
// was, and FILE held a mix that fails its checks, or the other heap's
// backup. Each backup now writes a temporary file of its own: what
// another process writes into FILE.tmp is not FILE, and is left alone.
// A --out that is a directory is refused before anything is written,
// not after the whole backup was streamed into a file beside it.
func TestHeapsBackupWritesATemporaryFileOfItsOwn(t *testing.T) {
	ctx := context.Background()
	n, flags := insecureAdmin(t)
	h, err := n.CreateHeap(ctx, "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Update(ctx, func(tx *oss.Tx) error {
		for i := range 20 {
			id := uuid.New()
			if err := oss.Put(tx, id, map[string]int{"n": i}); err != nil {
				return err
			}
			if err := tx.SetRoot(id.String(), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	heaps := func(args ...string) (string, error) {
		var out, notes bytes.Buffer
		err := heapsIO(bytes.NewReader(nil), &out, &notes, append(args, flags...))
		return notes.String(), err
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "x.bak")
	// Another backup to the same file, under way: it has FILE.tmp open.
	other, err := os.OpenFile(file+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.WriteString("the other backup's first bytes "); err != nil {
		t.Fatal(err)
	}
	if notes, err := heaps("backup", "src", "--out", file); err != nil || !strings.Contains(notes, "20 objects, 20 roots") {
		t.Fatalf("heaps backup --out %s: %q, %v", file, notes, err)
	}
	if _, err := other.WriteString("and its last"); err != nil { // the other backup goes on
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	info, err := oss.VerifyBackup(f)
	f.Close()
	if err != nil || info.Heap != "src" || info.Objects != 20 {
		t.Errorf("%s after another process wrote its FILE.tmp: %+v, %v; want src's whole backup", file, info, err)
	}
	if b, err := os.ReadFile(file + ".tmp"); err != nil || string(b) != "the other backup's first bytes and its last" {
		t.Errorf("the other process's %s.tmp: %q, %v; want it as that process wrote it", file, b, err)
	}
	if left := dirNames(t, dir); !slices.Equal(left, []string{"x.bak", "x.bak.tmp"}) {
		t.Errorf("%s holds %q after the backup; want x.bak and the other's x.bak.tmp", dir, left)
	}

	// A directory as --out: refused, nothing written beside it.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{sub, sub + string(filepath.Separator), filepath.Join(dir, "none") + string(filepath.Separator)} {
		if _, err := heaps("backup", "src", "--out", out); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("heaps backup --out %s: %v; want it refused as a directory", out, err)
		}
	}
	if left := dirNames(t, dir); !slices.Equal(left, []string{"sub", "x.bak", "x.bak.tmp"}) {
		t.Errorf("%s holds %q after backups to a directory; want nothing new", dir, left)
	}
	if left := dirNames(t, sub); len(left) != 0 {
		t.Errorf("%s holds %q; want nothing", sub, left)
	}
	// A directory that does not exist: the error names the file asked for.
	missing := filepath.Join(dir, "nodir", "y.bak")
	if _, err := heaps("backup", "src", "--out", missing); err == nil || !strings.Contains(err.Error(), "cannot write "+missing) {
		t.Errorf("heaps backup --out %s: %v; want it named", missing, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
