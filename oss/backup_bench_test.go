package oss_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// benchBackupHeap is a heap of 10,000 objects of 1 KiB, 100 roots, on a
// single in-memory node with the default commit limit (8 MiB).
func benchBackupHeap(b *testing.B) (*oss.Node, *oss.Heap, []byte) {
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeap(context.Background(), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	bkFill(b, h, 10000, 1024, 100)
	var buf bytes.Buffer
	if _, err := h.Backup(context.Background(), &buf, nil); err != nil {
		b.Fatal(err)
	}
	return n, h, buf.Bytes()
}

// BenchmarkBackup measures Heap.Backup into io.Discard: MB/s of backup,
// objects/s.
//
//	go test -run '^$' -bench 'Benchmark(Backup|Restore)$' -benchtime 20x ./oss/
func BenchmarkBackup(b *testing.B) {
	_, h, data := benchBackupHeap(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := h.Backup(context.Background(), io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkRestore measures Node.RestoreHeap of the same backup under a
// new name each time: MB/s of backup, objects/s.
func BenchmarkRestore(b *testing.B) {
	n, _, data := benchBackupHeap(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		if _, err := n.RestoreHeap(context.Background(), fmt.Sprintf("r%d", i), bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "objects/s")
}
