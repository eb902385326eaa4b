package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// "heaps backup" writes a whole backup to a file (none left as .tmp) or
// stdout, and "heaps restore" brings it back from the file or stdin as a
// new heap; a file that fails its checks is refused unsent, and a heap
// that exists is refused.
func TestHeapsBackupRestore(t *testing.T) {
	ctx := context.Background()
	n, flags := insecureAdmin(t)
	h, err := n.CreateHeap(ctx, "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Update(ctx, func(tx *oss.Tx) error {
		for i := range 100 {
			id := uuid.New()
			if err := oss.Put(tx, id, map[string]int{"n": i}); err != nil {
				return err
			}
			if i%10 == 0 {
				if err := tx.SetRoot(id.String(), id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	heaps := func(stdin []byte, args ...string) (string, string, error) {
		var out, notes bytes.Buffer
		err := heapsIO(bytes.NewReader(stdin), &out, &notes, append(args, flags...))
		return out.String(), notes.String(), err
	}
	file := filepath.Join(t.TempDir(), "src.bak")
	if _, notes, err := heaps(nil, "backup", "src", "--out", file, "--fresh"); err != nil || !strings.Contains(notes, "100 objects, 10 roots") {
		t.Fatalf("heaps backup --out: %q, %v", notes, err)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp left behind: %v", file, err)
	}
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := heaps(nil, "restore", "fromfile", "--in", file); err != nil || !strings.Contains(out, "100 objects, 10 roots") {
		t.Fatalf("heaps restore --in FILE: %q, %v", out, err)
	}
	stdout, _, err := heaps(nil, "backup", "src", "--out", "-")
	if err != nil {
		t.Fatalf("heaps backup --out -: %v", err)
	}
	if out, _, err := heaps([]byte(stdout), "restore", "fromstdin", "--in", "-"); err != nil || !strings.Contains(out, "100 objects, 10 roots") {
		t.Fatalf("heaps restore --in -: %q, %v", out, err)
	}
	for _, name := range []string{"fromfile", "fromstdin"} {
		r, err := n.Heap(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		info, err := r.Backup(ctx, &buf, nil)
		if err != nil || info.Objects != 100 || info.Roots != 10 {
			t.Errorf("heap %s restored: %+v, %v", name, info, err)
		}
	}
	if _, _, err := heaps(nil, "restore", "src", "--in", file); !errors.Is(err, oss.ErrHeapExists) {
		t.Errorf("heaps restore onto an existing heap: %v", err)
	}
	spoilt := bytes.Clone(saved)
	spoilt[len(spoilt)-3] ^= 1 // the end record's CRC: found only at the end
	bad := filepath.Join(t.TempDir(), "bad.bak")
	os.WriteFile(bad, spoilt, 0o600)
	if _, _, err := heaps(nil, "restore", "badone", "--in", bad); !errors.Is(err, oss.ErrBadBackup) || !strings.Contains(err.Error(), "nothing was sent") {
		t.Errorf("heaps restore of a damaged file: %v; want it refused unsent", err)
	}
	for _, hs := range n.Heaps() {
		if hs.Name == "badone" {
			t.Errorf("heap badone exists after a refused restore")
		}
	}
	for _, args := range [][]string{{"backup", "src"}, {"restore", "x"}} {
		if _, _, err := heaps(nil, args...); err == nil {
			t.Errorf("heaps %v without --out or --in: no error", args)
		}
	}
}
