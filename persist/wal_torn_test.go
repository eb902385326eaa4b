package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// walSegment writes records to a new log in memory and returns its one
// segment's bytes and the offset of each record's frame.
func walSegment(t *testing.T, recs ...string) (seg []byte, offs []int) {
	t.Helper()
	fsys := NewMemFS()
	// Without zeros after the records: the segment is the frames alone.
	w, _, _ := collect(t, fsys, "wal", WALOptions{Preallocate: -1})
	for _, r := range recs {
		if _, err := w.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seg = readMem(t, fsys, filepath.Join("wal", segmentName(1)))
	off := segmentHeader
	for _, r := range recs {
		offs = append(offs, off)
		off += frameHeader + len(r)
	}
	if off != len(seg) {
		t.Fatalf("segment of %d bytes, want %d", len(seg), off)
	}
	return seg, offs
}

func readMem(t *testing.T, fsys FS, path string) []byte {
	t.Helper()
	f, err := fsys.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && n > 0 {
		t.Fatal(err)
	}
	return b
}

// openSegment opens a log whose one segment holds data, and returns what it
// replayed, the error, and the segment's bytes afterwards. A log that
// opens takes one more record, numbered after what it replayed, and opens
// again with it. It zero-fills 64 KiB ahead of its writes, more than any
// test appends after the records, rather than the default megabyte: the
// tests open thousands of segments, and the in-memory file copies what it
// holds at each sync.
func openSegment(t *testing.T, data []byte) (got []string, err error, after []byte) {
	t.Helper()
	fsys := NewMemFS()
	fsys.MkdirAll("wal")
	path := filepath.Join("wal", segmentName(1))
	f, _ := fsys.Create(path)
	f.Write(data)
	f.Sync()
	f.Close()
	fsys.SyncDir("wal")
	w, err := OpenWAL(fsys, "wal", WALOptions{Logger: quiet(), Preallocate: 64 << 10}, func(seq uint64, rec []byte) error {
		if seq != uint64(len(got)+1) {
			t.Fatalf("record %d has seq %d", len(got)+1, seq)
		}
		got = append(got, string(rec))
		return nil
	})
	if err != nil {
		return got, err, readMem(t, fsys, path)
	}
	after = readMem(t, fsys, path)
	if seq, err := w.Append([]byte("appended")); err != nil || seq != uint64(len(got)+1) {
		t.Fatalf("append after replaying %d records: %d %v", len(got), seq, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, again, _ := collect(t, fsys, "wal", WALOptions{}); len(again) != len(got)+1 || string(again[uint64(len(got)+1)]) != "appended" {
		t.Fatalf("reopened with %d records, want %d and the one appended", len(again), len(got)+1)
	}
	return got, nil, after
}

// TestWALDamageBeforeTheEndIsRefused damages every byte of a segment, the
// last of its log, in turn: a frame's header (length, seq and both
// checksums) or payload, with one bit, the top bit and all bits flipped.
// Damage to any frame but the last refuses the log with a CorruptError at
// that frame, however the length reads now (past the end of the file
// too): never a silent cut. Damage to the last frame cannot be told from a
// torn write and cuts that frame off, alone.
func TestWALDamageBeforeTheEndIsRefused(t *testing.T) {
	recs := []string{"zero", "", "record two", "the third record, a longer one", "4", "the last record"}
	seg, offs := walSegment(t, recs...)
	frameAt := func(p int) int {
		i := 0
		for i+1 < len(offs) && offs[i+1] <= p {
			i++
		}
		return i
	}
	for p := range seg {
		for _, mask := range []byte{0x01, 0x40, 0x80, 0xff} {
			data := bytes.Clone(seg)
			data[p] ^= mask
			got, err, after := openSegment(t, data)
			var ce *CorruptError
			switch i := frameAt(p); {
			case p < segmentHeader:
				if !errors.As(err, &ce) || ce.Offset != 0 || !strings.Contains(ce.Reason, "segment") {
					t.Fatalf("byte %d ^ %#x, in the segment header: %v", p, mask, err)
				}
			case i < len(offs)-1:
				if !errors.As(err, &ce) || ce.Offset != int64(offs[i]) {
					t.Fatalf("byte %d ^ %#x, in frame %d of %d: %v (replayed %d records)", p, mask, i, len(offs), err, len(got))
				}
				if !bytes.Equal(after, data) {
					t.Fatalf("byte %d ^ %#x: a refused log was changed", p, mask)
				}
			default:
				if err != nil {
					t.Fatalf("byte %d ^ %#x, in the last frame: %v", p, mask, err)
				}
				if len(after) != offs[i] {
					t.Fatalf("byte %d ^ %#x, in the last frame: cut to %d bytes, want %d", p, mask, len(after), offs[i])
				}
			}
			if n := min(frameAt(p), len(got)); p >= segmentHeader && (len(got) != frameAt(p) || !slices.Equal(got[:n], recs[:n])) {
				t.Fatalf("byte %d ^ %#x: replayed %q, want the %d records before", p, mask, got, frameAt(p))
			}
		}
	}
}

// TestWALTornTailsAreCutOff appends to a sound segment what a crash can
// leave after the last synced write, and checks that it is cut off and the
// whole frames before it replayed: every prefix of a batch of frames, with
// its last byte as written or garbled (what MemFS.Crash leaves), and such
// a prefix followed by zeros or by stale bytes (where a file system grew
// the file but did not write its pages).
func TestWALTornTailsAreCutOff(t *testing.T) {
	recs := []string{"one", "two", "three"}
	base, _ := walSegment(t, recs...)
	batch := []string{"four", "", "six, a longer one"}
	var tail []byte
	ends := []int{} // where each whole frame of the batch ends, in tail
	for i, r := range batch {
		tail = appendFrame(tail, uint64(len(recs)+i+1), []byte(r))
		ends = append(ends, len(tail))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	stale := make([]byte, 5000)
	for i := range stale {
		stale[i] = byte(rng.Uint32())
	}
	fills := map[string][]byte{"nothing": nil, "1 zero": {0}, "19 zeros": make([]byte, 19), "20 zeros": make([]byte, 20), "4 KiB of zeros": make([]byte, 4096), "stale bytes": stale}
	for cut := 0; cut <= len(tail); cut++ {
		for _, garble := range []bool{false, true} {
			if garble && cut == 0 {
				continue
			}
			for name, fill := range fills {
				prefix := bytes.Clone(tail[:cut])
				if garble {
					prefix[cut-1] ^= 0x5a
				}
				whole := 0 // frames of the batch that survive whole
				for whole < len(ends) && ends[whole] <= cut && !(garble && ends[whole] == cut) {
					whole++
				}
				data := append(append(bytes.Clone(base), prefix...), fill...)
				got, err, after := openSegment(t, data)
				what := fmt.Sprintf("%d bytes of the batch (garbled %v), then %s", cut, garble, name)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				want := append(slices.Clone(recs), batch[:whole]...)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: replayed %q, want %q", what, got, want)
				}
				wantLen := len(base)
				if whole > 0 {
					wantLen += ends[whole-1]
				}
				// Zeros after the whole records stay: the log takes them
				// for the space it fills ahead of its writes, and writes
				// its next records there (openSegment appends one).
				if len(after) < wantLen || len(bytes.Trim(after[wantLen:], "\x00")) > 0 {
					t.Fatalf("%s: cut to %d bytes, want %d and zeros", what, len(after), wantLen)
				}
			}
		}
	}
}

// TestWALHoleBeforeAValidRecordIsRefused: zeros (a page the file system
// did not write) followed by a marked record that checks out are refused,
// not cut off: the marked record was written after a sync that covered
// the hole, so what the hole lost was durable, perhaps acknowledged. The
// node is rebuilt from its peers. Followed by unmarked records only, the
// hole and they are one unsynced write whose pages reached the disk out
// of order: a torn write, cut off at the hole.
func TestWALHoleBeforeAValidRecordIsRefused(t *testing.T) {
	base, offs := walSegment(t, "one", "two")
	data := append(bytes.Clone(base[:offs[1]]), make([]byte, 4096)...)
	data = appendFrameMark(data, 3, []byte("three"), true)
	if _, err, _ := openSegment(t, data); !isCorruptAt(err, offs[1]) {
		t.Fatalf("a hole, then a valid marked record: %v", err)
	}
	// A valid header is proof enough, whole record or not.
	data = append(bytes.Clone(base[:offs[1]]), make([]byte, 4096)...)
	data = append(data, appendFrameMark(nil, 3, []byte("three"), true)[:frameHeader+1]...)
	if _, err, _ := openSegment(t, data); !isCorruptAt(err, offs[1]) {
		t.Fatalf("a hole, then a torn marked record with a valid header: %v", err)
	}
	// One unsynced write: "two" marked (the batch's first), the page after
	// it lost, the next reached the disk.
	data = append(bytes.Clone(base[:offs[1]]), appendFrameMark(nil, 2, []byte("two"), true)...)
	data = append(data, make([]byte, 4096)...)
	data = appendFrame(data, 4, []byte("four"))
	data = append(data, make([]byte, 100)...)
	got, err, after := openSegment(t, data)
	if err != nil || !slices.Equal(got, []string{"one", "two"}) || len(after) != offs[1]+frameHeader+len("two") {
		t.Fatalf("a hole in an unsynced write, then an unmarked record of it: %q %v, cut to %d bytes; want one and two, cut to %d", got, err, len(after), offs[1]+frameHeader+len("two"))
	}
}

// TestWALGapIsRefused: a record that checks out but is not the next one is
// a gap, at the end of the last segment too.
func TestWALGapIsRefused(t *testing.T) {
	base, _ := walSegment(t, "one", "two")
	data := appendFrame(bytes.Clone(base), 4, []byte("four"))
	if _, err, _ := openSegment(t, data); !isCorruptAt(err, len(base)) {
		t.Fatalf("record 4 after record 2: %v", err)
	}
}

func isCorruptAt(err error, off int) bool {
	var ce *CorruptError
	return errors.As(err, &ce) && ce.Offset == int64(off)
}

// A log whose last segment is of version 2 (frames without marks) opens
// and writes its first batch in a new segment of version 4, once the old
// one is synced.
func TestWALVersion2SegmentIsLeftForANewOne(t *testing.T) {
	data := []byte(segmentMagicV2)
	data = appendFrame(data, 1, []byte("one"))
	data = appendFrame(data, 2, []byte("two"))
	got, err, after := openSegment(t, data)
	if err != nil || !slices.Equal(got, []string{"one", "two"}) || !bytes.Equal(after, data) {
		t.Fatalf("a version 2 segment: %q %v", got, err)
	}
	fsys := NewMemFS()
	fsys.MkdirAll("wal")
	f, _ := fsys.Create(filepath.Join("wal", segmentName(1)))
	f.Write(data)
	f.Sync()
	f.Close()
	fsys.SyncDir("wal")
	w, _, _ := collect(t, fsys, "wal", WALOptions{})
	if _, err := w.Append([]byte("three")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Read without marks, the version 2 segment would take a page of an
	// unsynced write that a power loss left zeros for damage.
	if b := readMem(t, fsys, filepath.Join("wal", segmentName(1))); !bytes.Equal(b, data) {
		t.Fatalf("the version 2 segment after one more record: %d bytes, want it as it was (%d)", len(b), len(data))
	}
	if b := readMem(t, fsys, filepath.Join("wal", segmentName(3))); !bytes.HasPrefix(b, appendFrameMark([]byte(segmentMagic), 3, []byte("three"), true)) {
		t.Fatalf("record 3 not in a new segment of version 4: %.40q", b)
	}
	reopenContiguous(t, fsys, WALOptions{}, "one", "two", "three")
}

// TestWALOldSegmentIsRefused: a segment of the format before version 2 (no
// segment header, frames without a header checksum), or of a later
// version, or whose header is damaged, refuses the log with an error that
// says so, and is left as it was.
func TestWALOldSegmentIsRefused(t *testing.T) {
	v1 := func(seq uint64, payload []byte) []byte {
		var h [16]byte
		binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
		binary.LittleEndian.PutUint64(h[8:16], seq)
		binary.LittleEndian.PutUint32(h[4:8], crc32.Update(crc32.Checksum(h[8:16], castagnoli), castagnoli, payload))
		return append(h[:], payload...)
	}
	for name, c := range map[string]struct {
		data []byte
		says string
	}{
		"version 1":      {append(v1(1, []byte("one")), v1(2, []byte("two"))...), "before version 2"},
		"version 3":      {append([]byte(segmentMagic[:segmentHeader-1]+"3"), appendFrame(nil, 1, []byte("one"))...), `version '3'`},
		"version 5":      {append([]byte(segmentMagic[:segmentHeader-1]+"5"), appendFrame(nil, 1, []byte("one"))...), `version '5'`},
		"garbled header": {append([]byte("OSS-WAX2"), appendFrame(nil, 1, []byte("one"))...), "no segment header"},
	} {
		_, err, after := openSegment(t, c.data)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Offset != 0 || !strings.Contains(ce.Reason, c.says) {
			t.Errorf("%s: %v, want a CorruptError at 0 that says %q", name, err, c.says)
		}
		if !bytes.Equal(after, c.data) {
			t.Errorf("%s: the refused segment was changed", name)
		}
	}
}

// TestWALTornSegmentHeaderIsCutOff: the header goes down with a segment's
// first batch; that write torn in the last segment (the header cut short
// or garbled, nothing after it, or zeros) is cut off, and the next batch
// writes the header again.
func TestWALTornSegmentHeaderIsCutOff(t *testing.T) {
	garbled := []byte(segmentMagic)
	garbled[segmentHeader-1] ^= 0x5a
	for name, data := range map[string][]byte{
		"empty":   nil,
		"1 byte":  []byte(segmentMagic[:1]),
		"7 bytes": []byte(segmentMagic[:7]),
		"garbled": garbled,
		"zeros":   make([]byte, 4096),
	} {
		got, err, after := openSegment(t, data)
		if err != nil || len(got) != 0 || len(after) != 0 {
			t.Fatalf("%s: %v, %d records, %d bytes left", name, err, len(got), len(after))
		}
	}
	// The header alone: a first batch whose frames are all cut off.
	if got, err, after := openSegment(t, []byte(segmentMagic)); err != nil || len(got) != 0 || string(after) != segmentMagic {
		t.Fatalf("a header alone: %v, %d records, %q left", err, len(got), after)
	}
}

// TestWALLostFirstPageOfASegment: a power loss before a segment's first
// sync may write back later pages of its first batch and not the first,
// which holds the header (a disk writes back pages in any order): the
// segment holds nothing synced and is cut to nothing. A marked record
// after the zeros is one of a later batch, written after a sync that
// covered the header: damage, refused.
func TestWALLostFirstPageOfASegment(t *testing.T) {
	big := bytes.Repeat([]byte("p"), 3000)
	data := appendFrameMark([]byte(segmentMagic), 1, big, true)
	data = appendFrame(data, 2, big)
	data = appendFrame(data, 3, big)
	lost := bytes.Clone(data)
	clear(lost[:4096])
	if got, err, after := openSegment(t, lost); err != nil || len(got) != 0 || len(after) != 0 {
		t.Fatalf("first page of an unsynced first batch lost: %v, %d records, %d bytes left", err, len(got), len(after))
	}
	synced := appendFrameMark(bytes.Clone(data), 4, big, true)
	clear(synced[:4096])
	if _, err, _ := openSegment(t, synced); !isCorruptAt(err, 0) {
		t.Fatalf("first page of a synced segment zeroed: %v, want a CorruptError at offset 0", err)
	}
}

// TestWALSegmentsStartWithTheirHeader: every segment, rotated or sealed
// after a failed sync, starts with its header once written to, and a log
// of several opens again.
func TestWALSegmentsStartWithTheirHeader(t *testing.T) {
	ffs := &FaultFS{FS: NewMemFS()}
	w, _, _ := collect(t, ffs, "wal", WALOptions{SegmentBytes: 64})
	for i := range 10 {
		if i == 5 {
			ffs.SetRule(func(op Op, name string) error {
				if op == OpSync && strings.HasSuffix(name, segmentSuffix) {
					ffs.SetRule(nil)
					return syscall.EIO
				}
				return nil
			})
			if _, err := w.Append([]byte("lost")); !errors.Is(err, syscall.EIO) {
				t.Fatalf("append whose sync fails: %v", err)
			}
		}
		if _, err := w.Append(fmt.Appendf(nil, "record %d, of some length", i)); err != nil {
			t.Fatal(err)
		}
	}
	if w.Stats().Seals != 1 {
		t.Fatalf("%+v: want one seal", w.Stats())
	}
	w.Close()
	names, _ := ffs.ReadDir("wal")
	if len(names) < 5 {
		t.Fatalf("%d segments", len(names))
	}
	for _, name := range names {
		if _, ok := parseSegmentName(name); !ok {
			continue // TAIL
		}
		if b := readMem(t, ffs, filepath.Join("wal", name)); !bytes.HasPrefix(b, []byte(segmentMagic)) {
			t.Fatalf("%s starts %q", name, b[:min(len(b), segmentHeader)])
		}
	}
	if _, got, _ := collect(t, ffs, "wal", WALOptions{SegmentBytes: 64}); len(got) != 10 {
		t.Fatalf("replayed %d records, want 10", len(got))
	}
}
