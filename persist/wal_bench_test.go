package persist

import (
	"fmt"
	"testing"
	"time"
)

var walBenchSizes = []int{64, 1 << 10, 16 << 10}

// BenchmarkWALFrame encodes one frame: the CPU cost of the record format.
func BenchmarkWALFrame(b *testing.B) {
	for _, size := range walBenchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			payload := make([]byte, size)
			buf := make([]byte, 0, size+64)
			b.SetBytes(int64(size))
			for i := uint64(1); b.Loop(); i++ {
				buf = appendFrame(buf[:0], i, payload)
			}
		})
	}
}

// BenchmarkWALAppend appends one record at a time: "memfs" with syncs at
// an interval longer than the run (framing, the writer's round trip and
// an in-memory write, no sync), "os-sync" to the machine's disk with an
// fsync per append, as a node in Sync durability does.
func BenchmarkWALAppend(b *testing.B) {
	for _, size := range walBenchSizes {
		b.Run(fmt.Sprintf("memfs/%dB", size), func(b *testing.B) {
			w, err := OpenWAL(NewMemFS(), "wal", WALOptions{SegmentBytes: 4 << 20, SyncInterval: time.Hour, Logger: quiet()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			benchAppend(b, w, size)
		})
	}
	// "os-sync-grow" appends without the zeros filled ahead: every
	// sync also makes the file's new size durable.
	for name, prealloc := range map[string]int64{"os-sync": 0, "os-sync-grow": -1} {
		b.Run(name+"/1024B", func(b *testing.B) {
			w, err := OpenWAL(OS{}, b.TempDir(), WALOptions{SegmentBytes: 4 << 20, Preallocate: prealloc, Logger: quiet()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			benchAppend(b, w, 1<<10)
		})
	}
}

func benchAppend(b *testing.B, w *WAL, size int) {
	rec := make([]byte, size)
	b.SetBytes(int64(size))
	for b.Loop() {
		seq, err := w.Append(rec)
		if err != nil {
			b.Fatal(err)
		}
		if seq%4096 == 0 {
			// Old segments go, as after a checkpoint: memory stays flat.
			if err := w.TruncateBefore(seq); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkWALReplay opens a log of 16 MiB of records of each size from
// memory: the read path of the record format.
func BenchmarkWALReplay(b *testing.B) {
	for _, size := range walBenchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			fsys := NewMemFS()
			w, err := OpenWAL(fsys, "wal", WALOptions{SyncInterval: time.Hour, Logger: quiet()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			rec := make([]byte, size)
			n := (16 << 20) / size
			for range n {
				if _, err := w.Append(rec); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n * size))
			for b.Loop() {
				got := 0
				w, err := OpenWAL(fsys, "wal", WALOptions{Logger: quiet()}, func(uint64, []byte) error { got++; return nil })
				if err != nil {
					b.Fatal(err)
				}
				w.Close()
				if got != n {
					b.Fatalf("replayed %d records, want %d", got, n)
				}
			}
		})
	}
}
