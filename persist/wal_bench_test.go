package persist

import (
	"fmt"
	"os"
	"path/filepath"
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

// BenchmarkWALSyncFloor is what BenchmarkWALAppend/os-sync stands on: a
// 1 KiB write over zeros and an fsync, in the benchmark's goroutine, on a
// file filled as the log fills its segments ("write-fsync"); and the same
// with the write and sync in another goroutine woken by a channel and
// waking the caller back, as an append does ("write-fsync-handoff").
func BenchmarkWALSyncFloor(b *testing.B) {
	for _, v := range []struct {
		name    string
		handoff bool
		create  func(string) (File, error)
	}{
		{"write-fsync", false, func(n string) (File, error) { f, err := os.Create(n); return plainFile{f}, err }},
		{"write-fsync-handoff", true, func(n string) (File, error) { f, err := os.Create(n); return plainFile{f}, err }},
		{"write-fsync-os", false, OS{}.Create},
		{"write-fsync-os-handoff", true, OS{}.Create},
	} {
		handoff := v.handoff
		b.Run(v.name, func(b *testing.B) {
			f, err := v.create(filepath.Join(b.TempDir(), "floor"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			const fill = 64 << 20
			rec := make([]byte, 1<<10)
			var off, alloc int64
			op := func() error {
				if off+int64(len(rec)) > alloc {
					if off >= fill {
						off = 0
					} else {
						if _, err := f.WriteAt(zeros[:], alloc); err != nil {
							return err
						}
						alloc += int64(len(zeros))
					}
				}
				if _, err := f.WriteAt(rec, off); err != nil {
					return err
				}
				off += int64(len(rec))
				return f.Sync()
			}
			if !handoff {
				for b.Loop() {
					if err := op(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			req, resp := make(chan struct{}, 1), make(chan error, 1)
			go func() {
				for range req {
					resp <- op()
				}
			}()
			defer close(req)
			for b.Loop() {
				req <- struct{}{}
				if err := <-resp; err != nil {
					b.Fatal(err)
				}
			}
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

// plainFile is an *os.File whose Sync is the standard library's fsync.
type plainFile struct{ *os.File }

func (f plainFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// BenchmarkWALInPlace is what the log's check that its segment is still
// where it was opened costs after a sync, on the machine's file system:
// "linked" (the link count, after every sync) and "named" (the inode of
// the segment's name and of the file: the same file, every namedEvery
// syncs); statx on Linux, fstat and stat elsewhere.
func BenchmarkWALInPlace(b *testing.B) {
	name := filepath.Join(b.TempDir(), segmentName(1))
	f, err := OS{}.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	p := f.(PlacedFile)
	b.Run("linked", func(b *testing.B) {
		for b.Loop() {
			if ok, err := p.Linked(); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("named", func(b *testing.B) {
		for b.Loop() {
			if ok, err := p.Named(name); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
