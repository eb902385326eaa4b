package persist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
)

// readSizeFS is an FS whose files remember the largest single read asked
// of them: what a reader holds of a file at once.
type readSizeFS struct {
	FS
	mu      sync.Mutex
	largest int
}

func (f *readSizeFS) Open(name string) (File, error) {
	fl, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &readSizeFile{File: fl, fs: f}, nil
}

func (f *readSizeFS) note(n int) {
	f.mu.Lock()
	f.largest = max(f.largest, n)
	f.mu.Unlock()
}

type readSizeFile struct {
	File
	fs *readSizeFS
}

func (f *readSizeFile) Read(p []byte) (int, error) {
	f.fs.note(len(p))
	return f.File.Read(p)
}

func (f *readSizeFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.note(len(p))
	return f.File.ReadAt(p, off)
}

// readPiece bounds a single read of recovery: its buffer, or one record
// larger than that.
const readPiece = 1 << 20

// Replaying the log reads each segment in pieces, not whole: a segment of
// 8 MiB of small records (eight pieces; 32 MiB with OSS_LONG set) never
// has more than a piece of it in memory.
func TestWALReplayReadsSegmentsInPieces(t *testing.T) {
	t.Parallel()
	records := 2000
	if os.Getenv("OSS_LONG") != "" {
		records = 8000
	}
	fsys := NewMemFS()
	w, _, _ := collect(t, fsys, "wal", WALOptions{})
	var recs [][]byte
	for i := range records {
		rec := bytes.Repeat([]byte{byte(i)}, 4096)
		copy(rec, fmt.Sprint(i))
		recs = append(recs, rec)
	}
	if _, err := w.Append(recs...); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("b"), 3*readPiece) // one record larger than a piece
	if _, err := w.Append(big); err != nil {
		t.Fatal(err)
	}
	w.Close()
	recs = append(recs, big)

	counting := &readSizeFS{FS: fsys}
	w2, got, order := collect(t, counting, "wal", WALOptions{})
	defer w2.Close()
	if len(order) != len(recs) {
		t.Fatalf("replayed %d records, want %d", len(order), len(recs))
	}
	for i, rec := range recs {
		if !bytes.Equal(got[uint64(i+1)], rec) {
			t.Fatalf("record %d differs after replay", i+1)
		}
	}
	if counting.largest > max(readPiece, len(big)) {
		t.Fatalf("replay read %d bytes at once; want at most a piece (%d) or the one large record (%d)", counting.largest, readPiece, len(big))
	}
}

// Load reads each stripe in pieces and hands out values of their own, not
// windows into a segment's buffer: once loaded, no buffer of a segment is
// kept alive by the objects.
func TestStoreLoadCopiesValuesOutOfSegments(t *testing.T) {
	t.Parallel()
	fsys := NewMemFS()
	s, err := OpenStore(fsys, stripeDirs(1))
	if err != nil {
		t.Fatal(err)
	}
	want := map[storeKey]Object{}
	for round := range 3 { // overwrites: garbage in the segment
		var objs []Object
		for i := range 2000 {
			o := obj("a", i, uint64(round+1), string(bytes.Repeat([]byte{byte('a' + round)}, 2000+i%7)))
			objs = append(objs, o)
			want[storeKey{o.Space, o.ID}] = o
		}
		if _, err := s.Checkpoint(objs, map[string][]byte{"a": {1}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	counting := &readSizeFS{FS: fsys}
	s2, err := OpenStore(counting, stripeDirs(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := loadAll(t, s2)
	if len(got) != len(want) {
		t.Fatalf("loaded %d objects, want %d", len(got), len(want))
	}
	for k, o := range got {
		w := want[k]
		if o.Version != w.Version || !bytes.Equal(o.Value, w.Value) {
			t.Fatalf("object %x: version %d %q, want %d %q", k.id, o.Version, o.Value[:8], w.Version, w.Value[:8])
		}
		if cap(o.Value) != len(o.Value) {
			t.Fatalf("object %x: its value (%d bytes) is a window of %d bytes into a larger buffer", k.id, len(o.Value), cap(o.Value))
		}
	}
	if counting.largest > readPiece {
		t.Fatalf("load read %d bytes at once, want at most %d", counting.largest, readPiece)
	}
}

// BenchmarkStoreIndexPerObject reports the Go heap the store's index
// spends an object (index-B/obj): where the last record of each live
// object lies, which a durable node keeps for every object of its heaps
// once a checkpoint wrote it. The objects go in 100 checkpoints, with
// random IDs, and the index is let go of to measure it.
//
//	go test ./consistency ./persist -run '^$' -bench PerObject -benchtime 1x
func BenchmarkStoreIndexPerObject(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			for b.Loop() {
				s, err := OpenStore(OS{}, []string{b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				val := make([]byte, 100)
				objs := make([]Object, n/100)
				for range 100 {
					for i := range objs {
						objs[i] = Object{Space: "bench", Version: 1, Value: val}
						for k := range objs[i].ID {
							objs[i].ID[k] = byte(rng.Uint32())
						}
					}
					if _, err := s.Checkpoint(objs, map[string][]byte{"bench": []byte("meta")}); err != nil {
						b.Fatal(err)
					}
				}
				with := heapBytes()
				s.mu.Lock()
				for _, st := range s.stripes {
					st.idx = map[string]*idIndex{}
				}
				s.mu.Unlock()
				without := heapBytes()
				b.ReportMetric((with-without)/float64(n), "index-B/obj")
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// heapBytes is the Go heap the process's objects occupy after a full
// collection.
func heapBytes() float64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64())
}
