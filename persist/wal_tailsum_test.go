package persist

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// readMemFile returns the whole of name in fsys.
func readMemFile(t *testing.T, fsys FS, name string) []byte {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putMemFile makes name in fsys hold b, synced.
func putMemFile(t *testing.T, fsys FS, name string, b []byte) {
	t.Helper()
	if err := WriteFileAtomic(fsys, filepath.Dir(name), filepath.Base(name), b); err != nil {
		t.Fatal(err)
	}
}

// The mark of the log's last segment had no checksum: a damaged byte of
// its segment's name sent the check after another segment (one before
// the last: trusted, and the check missed), and any other damage set
// the mark aside with a warning. The mark carries the CRC-32C of the
// name now, and a mark that does not check out, whichever byte is
// damaged, or cut short, or empty, refuses the open with a
// CorruptError naming TAIL.
func TestWALRefusesADamagedTailMark(t *testing.T) {
	fsys := NewMemFS()
	fillSegments(t, fsys, 40)
	path := filepath.Join("wal", tailMark)
	good := readMemFile(t, fsys, path)
	if !strings.Contains(string(good), " ") {
		t.Fatalf("TAIL holds %q, want a segment's name and its checksum", good)
	}
	refused := func(what string, b []byte) {
		t.Helper()
		putMemFile(t, fsys, path, b)
		_, err := OpenWAL(fsys, "wal", WALOptions{SegmentBytes: 256, Logger: quiet()}, nil)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != path {
			t.Fatalf("open with TAIL %s (%q): %v, want a CorruptError naming %s", what, b, err, path)
		}
		if !strings.Contains(err.Error(), "remove "+path) {
			t.Fatalf("open with TAIL %s: %v, want it to say what to do", what, err)
		}
	}
	for i := range good {
		for _, bit := range []byte{0x01, 0x10} {
			b := []byte(string(good))
			b[i] ^= bit
			refused(fmt.Sprintf("damaged at byte %d", i), b)
		}
	}
	for n := range len(good) {
		refused(fmt.Sprintf("cut to %d bytes", n), good[:n])
	}
	putMemFile(t, fsys, path, good)
	w, got, _ := collect(t, fsys, "wal", WALOptions{SegmentBytes: 256})
	w.Close()
	if len(got) != 40 {
		t.Fatalf("with TAIL mended, replayed %d records, want 40", len(got))
	}
}

// A mark of the form before the checksum (the segment's name alone)
// opens, is written again with its checksum, and still tells the
// removal of the last segment.
func TestWALTakesATailMarkWithoutChecksum(t *testing.T) {
	fsys := NewMemFS()
	segs := fillSegments(t, fsys, 40)
	path := filepath.Join("wal", tailMark)
	last := segs[len(segs)-1]
	putMemFile(t, fsys, path, []byte(last+"\n"))
	w, got, _ := collect(t, fsys, "wal", WALOptions{SegmentBytes: 256})
	w.Close()
	if len(got) != 40 {
		t.Fatalf("replayed %d records under a mark without checksum, want 40", len(got))
	}
	if b := string(readMemFile(t, fsys, path)); !strings.HasPrefix(b, last+" ") {
		t.Fatalf("TAIL after the open holds %q, want %s and its checksum", b, last)
	}
	putMemFile(t, fsys, path, []byte(last+"\n"))
	fsys.Remove(filepath.Join("wal", last))
	_, err := OpenWAL(fsys, "wal", WALOptions{SegmentBytes: 256, Logger: quiet()}, nil)
	if ce := (*CorruptError)(nil); !errors.As(err, &ce) || ce.File != filepath.Join("wal", last) {
		t.Fatalf("open after the removal of the segment a mark without checksum names: %v, want a CorruptError naming %s", err, last)
	}
}
