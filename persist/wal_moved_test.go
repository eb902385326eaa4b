package persist

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A log whose segment is still linked somewhere, but no longer where the
// next open looks, is gone as one whose segment was removed: the first
// append after the move fails, and the next open refuses. The README
// promises that `wal/` removed or moved fails the next commit; before,
// the log looked its segment up by name every 64 syncs and acknowledged
// the appends in between.
func TestWALStopsAtTheFirstSyncAfterItsSegmentMoved(t *testing.T) {
	for _, tc := range []struct {
		name string
		move func(t *testing.T, dir, seg string)
	}{
		{"directory moved away", func(t *testing.T, dir, _ string) {
			if err := os.Rename(dir, dir+".away"); err != nil {
				t.Fatal(err)
			}
		}},
		{"segment renamed", func(t *testing.T, _, seg string) {
			if err := os.Rename(seg, seg+".old"); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory removed after a hard link to the segment", func(t *testing.T, dir, seg string) {
			// A backup made with hard links (cp -al) keeps the segment's
			// link count above zero once wal/ is removed.
			if err := os.Link(seg, filepath.Join(filepath.Dir(dir), "backup.wal")); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			w, _, _ := collect(t, OS{}, dir, WALOptions{})
			defer w.Close()
			for i := range 5 {
				if _, err := w.AppendSync([]byte(fmt.Sprint("before-", i))); err != nil {
					t.Fatal(err)
				}
			}
			seg := filepath.Join(dir, segmentName(1))
			tc.move(t, dir, seg)
			_, err := w.AppendSync([]byte("after"))
			if !errors.Is(err, ErrGone) || !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), seg) {
				t.Fatalf("the first append after the move: %v; want ErrGone naming %s", err, seg)
			}
			if _, err := w.AppendSync([]byte("later")); !errors.Is(err, ErrFailed) {
				t.Fatalf("an append once the log is gone: %v", err)
			}
		})
	}
}
