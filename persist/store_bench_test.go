package persist

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

func benchObjects(n int) []Object {
	objs := make([]Object, n)
	val := make([]byte, 100)
	for i := range objs {
		objs[i] = Object{Space: "bench", Version: uint64(i + 1), Value: val}
		objs[i].ID[0], objs[i].ID[1], objs[i].ID[2], objs[i].ID[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
	}
	return objs
}

// BenchmarkCheckpoint writes checkpoints of 200,000 objects of 100 bytes
// to W = 1, 2 and 4 stripes on the machine's disk, against a plain
// sequential write of the same bytes with one fsync, in the same run.
func BenchmarkCheckpoint(b *testing.B) {
	objs := benchObjects(200_000)
	var size int64
	for i := range objs {
		size += int64(len(appendObject(nil, &objs[i])))
	}
	b.Run("sequential", func(b *testing.B) {
		buf := make([]byte, size)
		b.SetBytes(size)
		dir := b.TempDir()
		for i := 0; b.Loop(); i++ {
			f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	for _, w := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("W=%d", w), func(b *testing.B) {
			root := b.TempDir()
			var dirs []string
			for i := range w {
				dirs = append(dirs, filepath.Join(root, fmt.Sprint("stripe", i)))
			}
			s, err := OpenStore(OS{}, dirs)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(size)
			for b.Loop() {
				if _, err := s.Checkpoint(objs, map[string][]byte{"bench": []byte("meta")}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoad recovers 1,000,000 objects of 100 bytes from W = 1, 2 and 4
// stripes, against a plain sequential read of the same bytes.
func BenchmarkLoad(b *testing.B) {
	objs := benchObjects(1_000_000)
	for _, w := range []int{1, 2, 4} {
		root := b.TempDir()
		var dirs []string
		for i := range w {
			dirs = append(dirs, filepath.Join(root, fmt.Sprint("stripe", i)))
		}
		s, err := OpenStore(OS{}, dirs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Checkpoint(objs, map[string][]byte{"bench": []byte("meta")}); err != nil {
			b.Fatal(err)
		}
		s.Close()
		var files []string
		var size int64
		for _, d := range dirs {
			names, _ := os.ReadDir(d)
			for _, n := range names {
				files = append(files, filepath.Join(d, n.Name()))
				st, _ := os.Stat(filepath.Join(d, n.Name()))
				size += st.Size()
			}
		}
		if w == 1 {
			b.Run("sequential-read", func(b *testing.B) {
				b.SetBytes(size)
				for b.Loop() {
					for _, f := range files {
						if _, err := os.ReadFile(f); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
		b.Run(fmt.Sprintf("W=%d", w), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				s, err := OpenStore(OS{}, dirs)
				if err != nil {
					b.Fatal(err)
				}
				var n atomic.Int64
				if err := s.Load(func(o Object) { n.Add(1) }); err != nil {
					b.Fatal(err)
				}
				s.Close()
				if n.Load() != int64(len(objs)) {
					b.Fatalf("loaded %d objects of %d", n.Load(), len(objs))
				}
			}
		})
	}
}

// BenchmarkView takes and closes a view of a checkpoint of 100,000
// objects, as a heap does after each checkpoint (for the snapshots of
// lagging replicas), without reading it.
func BenchmarkView(b *testing.B) {
	objs := benchObjects(100_000)
	s, err := OpenStore(OS{}, []string{filepath.Join(b.TempDir(), "stripe0")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Checkpoint(objs, map[string][]byte{"bench": []byte("meta")}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		v, ok, err := s.View("bench")
		if err != nil || !ok || v.Len() != len(objs) {
			b.Fatal(ok, err)
		}
		v.Close()
	}
}

// BenchmarkViewScan reads 1,000,000 objects of 100 bytes through a view of
// the last checkpoint, as a snapshot for a lagging replica streams out of
// the store, from W = 1, 2 and 4 stripes.
func BenchmarkViewScan(b *testing.B) {
	objs := benchObjects(1_000_000)
	for _, w := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("W=%d", w), func(b *testing.B) {
			root := b.TempDir()
			var dirs []string
			for i := range w {
				dirs = append(dirs, filepath.Join(root, fmt.Sprint("stripe", i)))
			}
			s, err := OpenStore(OS{}, dirs)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Checkpoint(objs, map[string][]byte{"bench": []byte("meta")}); err != nil {
				b.Fatal(err)
			}
			var size int64
			for i := range objs {
				size += int64(len(appendObject(nil, &objs[i])))
			}
			b.SetBytes(size)
			for b.Loop() {
				v, ok, err := s.View("bench")
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
				n := 0
				if err := v.Scan(func(Object) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				v.Close()
				if n != len(objs) {
					b.Fatalf("scanned %d objects of %d", n, len(objs))
				}
			}
		})
	}
}
