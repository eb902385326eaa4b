package oss

import (
	"path/filepath"
	"testing"

	"github.com/objectsharing/oss/persist"
)

// benchFile opens a file of 4 KiB under fsys, bare or watched.
func benchFile(b *testing.B, fsys persist.FS, dir string, watched bool) persist.File {
	b.Helper()
	if watched {
		fsys = watchFS(fsys, &diskOps{})
	}
	if err := fsys.MkdirAll(dir); err != nil {
		b.Fatal(err)
	}
	name := filepath.Join(dir, "f")
	f, err := fsys.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// A cached 512-byte ReadAt of a file on the operating system's file
// system from every goroutine at once (persist/view.go's reads), bare and
// through the node's disk watch.
func BenchmarkWatchedReadAt(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "plain"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			f := benchFile(b, persist.OS{}, b.TempDir(), watched)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				p := make([]byte, 512)
				for pb.Next() {
					if _, err := f.ReadAt(p, 1024); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// A 128-byte WriteAt and a Sync of a file on MemFS (the log's writes and
// syncs without the system calls), bare and watched.
func BenchmarkWatchedWriteSync(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "plain"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			f := benchFile(b, persist.NewMemFS(), "/data", watched)
			p := make([]byte, 128)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.WriteAt(p, 0); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
