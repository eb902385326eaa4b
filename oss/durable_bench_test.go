package oss

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// bareFsync measures the median latency of appending 128 bytes to a file
// and syncing it, on the disk dir is on: the floor of a durable commit.
func bareFsync(b *testing.B, dir string, rounds int) time.Duration {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 128)
	var ds []time.Duration
	for range rounds {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	return percentile(ds, 0.5)
}

// BenchmarkDurableCommit measures a single node in Sync mode on the
// machine's disk: the latency of one commit at a time against the bare
// fsync latency of the same disk in the same run, and the commits and
// commits per sync of 64 concurrent writers.
func BenchmarkDurableCommit(b *testing.B) {
	dir := b.TempDir()
	floor := bareFsync(b, dir, 200)
	n, err := Start(context.Background(), &Config{DataDir: filepath.Join(dir, "node"), Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeapIfNotExists(context.Background(), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sequential", func(b *testing.B) {
		id := uuid.New()
		var ds []time.Duration
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, id, i) }); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		p50 := percentile(ds, 0.5)
		b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
		b.ReportMetric(float64(percentile(ds, 0.99).Microseconds()), "p99-µs")
		b.ReportMetric(float64(floor.Microseconds()), "fsync-µs")
		b.ReportMetric(float64(p50)/float64(floor), "p50/fsync")
	})
	b.Run("64-writers", func(b *testing.B) {
		before := n.disk.wal.Stats()
		var next atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				id := uuid.New()
				for next.Add(1) <= int64(b.N) {
					if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, id, 1) }); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		after := n.disk.wal.Stats()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
		b.ReportMetric(float64(b.N)/float64(after.Syncs-before.Syncs), "commits/fsync")
	})
}

// BenchmarkRecovery restarts a node holding 1,000,000 objects of about 100
// bytes (checkpointed in the striped store, the rest in the log) and
// reports the time until its heap is open again.
func BenchmarkRecovery(b *testing.B) {
	dir := b.TempDir()
	cfg := &Config{DataDir: filepath.Join(dir, "node"), Logger: testLogger(),
		CheckpointEvery: 40, // a checkpoint covers most of the fill
		StripeDirs: []string{
			filepath.Join(dir, "s0"), filepath.Join(dir, "s1"), filepath.Join(dir, "s2"), filepath.Join(dir, "s3")}}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	h, err := n.CreateHeapIfNotExists(context.Background(), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 80)
	for range 100 {
		err := h.Update(context.Background(), func(tx *Tx) error {
			for range 10_000 {
				if _, err := New(tx, val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	n.Close(context.Background())
	var objects int
	for b.Loop() {
		start := time.Now()
		n, err := Start(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		h, err := n.CreateHeapIfNotExists(context.Background(), "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/recovery")
		objects = h.Stats().Objects
		n.Close(context.Background())
	}
	if objects != 1_000_000 {
		b.Fatalf("recovered %d objects", objects)
	}
	b.ReportMetric(float64(objects), "objects")
}
