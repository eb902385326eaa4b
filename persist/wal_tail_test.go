package persist

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// fillSegments appends n records to a log of small segments in dir and
// closes it, returning its segment names, oldest first.
func fillSegments(t *testing.T, fsys *MemFS, n int) []string {
	t.Helper()
	w, _, _ := collect(t, fsys, "wal", WALOptions{SegmentBytes: 256})
	for i := range n {
		if _, err := w.Append(fmt.Appendf(nil, "record %03d of the log's tail", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var segs []string
	names, _ := fsys.ReadDir("wal")
	for _, name := range names {
		if _, ok := parseSegmentName(name); ok {
			segs = append(segs, name)
		}
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	return segs
}

// A last segment removed while the log was closed left a log that read
// whole, ending where the segment before it ended, and the records it
// held were gone without a word. TAIL names the last segment, so the
// open refuses the log, naming the segment.
func TestWALRefusesALogWhoseLastSegmentWasRemoved(t *testing.T) {
	for _, gone := range []int{1, 2} {
		t.Run(fmt.Sprintf("last %d", gone), func(t *testing.T) {
			fsys := NewMemFS()
			segs := fillSegments(t, fsys, 40)
			for _, name := range segs[len(segs)-gone:] {
				if err := fsys.Remove(filepath.Join("wal", name)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := OpenWAL(fsys, "wal", WALOptions{SegmentBytes: 256}, func(uint64, []byte) error { return nil })
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.File != filepath.Join("wal", segs[len(segs)-1]) {
				t.Fatalf("open of a log whose last %d segments were removed: %v, want a CorruptError naming %s", gone, err, segs[len(segs)-1])
			}
			t.Log(err)
		})
	}
}

// Every segment but the mark removed is a lost log too.
func TestWALRefusesALogWithOnlyItsTailMark(t *testing.T) {
	fsys := NewMemFS()
	for _, name := range fillSegments(t, fsys, 40) {
		fsys.Remove(filepath.Join("wal", name))
	}
	_, err := OpenWAL(fsys, "wal", WALOptions{}, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("open of a log whose segments were all removed: %v, want a CorruptError", err)
	}
}

// A log written before the mark opens as it did, and is marked: a later
// removal of its last segment is told.
func TestWALMarksALogWrittenBeforeTheMark(t *testing.T) {
	fsys := NewMemFS()
	segs := fillSegments(t, fsys, 40)
	if err := fsys.Remove(filepath.Join("wal", tailMark)); err != nil {
		t.Fatal(err)
	}
	w, got, _ := collect(t, fsys, "wal", WALOptions{SegmentBytes: 256})
	if len(got) != 40 {
		t.Fatalf("replayed %d records, want 40", len(got))
	}
	w.Close()
	fsys.Remove(filepath.Join("wal", segs[len(segs)-1]))
	if _, err := OpenWAL(fsys, "wal", WALOptions{SegmentBytes: 256}, nil); !errors.As(err, new(*CorruptError)) {
		t.Fatalf("open after the last segment's removal: %v, want a CorruptError", err)
	}
}

// A crash at any step of marking a new segment (the mark's file created,
// synced, renamed, the directory synced) leaves a log that opens with
// every record acknowledged before it: the mark never names a segment
// that a crash can take away.
func TestWALTailMarkSurvivesCrashes(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0x7a11))
	for round := range 300 {
		mem := NewMemFS()
		fsys := &FaultFS{FS: mem}
		var crashed *MemFS
		steps, crashAt := 0, 1+rng.IntN(40)
		acked := 0
		fsys.SetRule(func(op Op, name string) error {
			if strings.Contains(name, tailMark) || op == OpSyncDir {
				if steps++; steps == crashAt && crashed == nil {
					crashed = mem.Crash(rng)
				}
			}
			return nil
		})
		w, _, _ := collect(t, fsys, "wal", WALOptions{SegmentBytes: 200})
		for i := 0; crashed == nil && i < 200; i++ {
			if _, err := w.Append(fmt.Appendf(nil, "record %03d", i)); err != nil {
				t.Fatal(err)
			}
			if crashed == nil {
				acked++
			}
		}
		w.Close()
		if crashed == nil {
			continue
		}
		var order []uint64
		w, err := OpenWAL(crashed, "wal", WALOptions{SegmentBytes: 200, Logger: quiet()}, func(seq uint64, _ []byte) error {
			order = append(order, seq)
			return nil
		})
		if err != nil {
			t.Fatalf("seed %d round %d: open after a crash at step %d: %v", seed, round, crashAt, err)
		}
		w.Close()
		if len(order) < acked || len(order) > 0 && order[0] != 1 {
			t.Fatalf("seed %d round %d: records %v after a crash at step %d, %d were acknowledged", seed, round, order, crashAt, acked)
		}
	}
}
