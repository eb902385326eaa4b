package oss

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkUpdateError measures, one at a time, an Update whose function
// reads an object and returns an error (the ball is taken): on a durable
// single node (Sync mode, on the machine's disk) and on a durable 3-node
// cluster on the in-memory network (each node's log on the machine's
// disk), from the leader's node and from a follower's.
//
// "check" is how Update confirms such an error now: a read index. "log" is
// what it cost before: a record with the reads and no writes, proposed,
// synced and applied like a commit. An Update whose function reads and
// returns nil still sends exactly that record, so "log" runs one. Reports
// the median and 99th percentile latency, the log entries and fsyncs (all
// nodes together) per operation, and the median latency of a bare fsync
// of the same disk, measured in the same run.
func BenchmarkUpdateError(b *testing.B) {
	dir := b.TempDir()
	floor := bareFsync(b, dir, 200)
	b.Run("single", func(b *testing.B) {
		n, err := Start(context.Background(), &Config{DataDir: filepath.Join(dir, "single"), Logger: testLogger()})
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close(context.Background())
		h, err := n.CreateHeapIfNotExists(context.Background(), "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		benchUpdateError(b, h, []*Node{n}, floor)
	})
	c := startTestNodes(b, 31)
	c.tweak = func(cfg *Config) { cfg.DataDir = filepath.Join(dir, cfg.Name) }
	var nodes []*Node
	for i, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, c.add(name, i > 0, nil))
	}
	hs := map[string]*Heap{}
	for _, name := range []string{"a", "b", "c"} {
		hs[name] = c.open(name, "bench")
	}
	g := c.waitGroup(b, "bench")
	follower := "a"
	if g.Leader == "a" {
		follower = "b"
	}
	b.Run("cluster-leader", func(b *testing.B) { benchUpdateError(b, hs[g.Leader], nodes, floor) })
	b.Run("cluster-follower", func(b *testing.B) { benchUpdateError(b, hs[follower], nodes, floor) })
}

func benchUpdateError(b *testing.B, h *Heap, nodes []*Node, floor time.Duration) {
	id := uuid.New()
	mustPut(b, h, id, ball{"bob"})
	for _, path := range []string{"log", "check"} {
		b.Run(path, func(b *testing.B) {
			fn := func(tx *Tx) error {
				bl, err := Get[ball](tx, id)
				if err != nil {
					return err
				}
				if path == "check" && bl.Holder != "" {
					return errTaken
				}
				return nil
			}
			syncs := func() (s uint64) {
				for _, n := range nodes {
					s += n.disk.wal.Stats().Syncs
				}
				return s
			}
			applied, synced := h.Stats().Applied, syncs()
			var ds []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if err := h.Update(context.Background(), fn); err != nil && err != errTaken {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			ops := float64(len(ds))
			µs := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
			b.ReportMetric(µs(percentile(ds, 0.5)), "p50-µs")
			b.ReportMetric(µs(percentile(ds, 0.99)), "p99-µs")
			b.ReportMetric(µs(floor), "fsync-µs")
			b.ReportMetric(float64(h.Stats().Applied-applied)/ops, "entries/op")
			b.ReportMetric(float64(syncs()-synced)/ops, "fsyncs/op")
		})
	}
}
