package persist

import (
	"errors"
	"strings"
	"testing"
)

// A segment file that does not belong to the log (an empty one numbered
// past its records, or before them: an operator's copy, a stray restore)
// is refused, as a missing segment is, with an error that names it. Before,
// the error named only the log's own segment ("header checksum …, want
// 00000000"; "starts at record 1, want 0"), which looked damaged and is not.
func TestWALStraySegmentIsNamed(t *testing.T) {
	for _, c := range []struct{ name, stray string }{
		{"after the records", segmentName(0x99999)},
		{"before the records", segmentName(0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := NewMemFS()
			w, err := OpenWAL(mem, "/wal", WALOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				if _, err := w.Append([]byte("record")); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := mem.Create("/wal/" + c.stray)
			if err != nil {
				t.Fatal(err)
			}
			f.Sync()
			f.Close()
			mem.SyncDir("/wal")
			_, err = OpenWAL(mem, "/wal", WALOptions{}, nil)
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.stray) {
				t.Fatalf("a log with the stray segment %s: %v", c.stray, err)
			}
		})
	}
}
