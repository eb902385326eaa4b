package oss

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkCommitDuringCheckpoint fills a durable node's heap, on the
// machine's disk, with 1,000,000 objects of about 100 bytes that its first
// checkpoint writes, then commits one small update at a time, before and
// while that checkpoint runs. It reports the commit latency of both (p50,
// p99) and how long the checkpoint took: what each commit would have waited
// for at worst with the checkpoint on the heap's loop. Run it with
// -benchtime=1x.
func BenchmarkCommitDuringCheckpoint(b *testing.B) {
	const objects, batch, before = 1_000_000, 10_000, 2000
	for b.Loop() {
		dir := b.TempDir()
		n, err := Start(context.Background(), &Config{
			DataDir: filepath.Join(dir, "node"), Logger: testLogger(),
			CheckpointEvery: objects/batch + before, // the fill and the commits before it
		})
		if err != nil {
			b.Fatal(err)
		}
		h, err := n.CreateHeapIfNotExists(context.Background(), "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		started := make(chan time.Time, 1)
		onCheckpoint(h, func() { started <- time.Now() })
		val := make([]byte, 80)
		for range objects / batch {
			err := h.Update(context.Background(), func(tx *Tx) error {
				for range batch {
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
		id := uuid.New()
		var idle, during []time.Duration
		var begun time.Time
		var took time.Duration
		for i := 0; took == 0; i++ {
			t0 := time.Now()
			v := i
			if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t0)
			if begun.IsZero() {
				select {
				case begun = <-started:
				default:
				}
			}
			done := h.ckptSeq.Load() != 0
			if begun.IsZero() {
				idle = append(idle, d)
			} else if done {
				took = time.Since(begun) // done: the last commit may have outlasted it
			} else if t0.After(begun) {
				during = append(during, d)
			}
		}
		n.Close(context.Background())
		if len(idle) == 0 || len(during) == 0 {
			b.Fatalf("%d commits before the checkpoint, %d during it", len(idle), len(during))
		}
		b.ReportMetric(float64(percentile(idle, 0.5).Microseconds()), "idle-p50-µs")
		b.ReportMetric(float64(percentile(idle, 0.99).Microseconds()), "idle-p99-µs")
		b.ReportMetric(float64(percentile(during, 0.5).Microseconds()), "ckpt-p50-µs")
		b.ReportMetric(float64(percentile(during, 0.99).Microseconds()), "ckpt-p99-µs")
		b.ReportMetric(float64(slices.Max(during).Microseconds()), "ckpt-max-µs")
		b.ReportMetric(float64(len(during)), "commits-during")
		b.ReportMetric(took.Seconds(), "ckpt-s")
	}
}
