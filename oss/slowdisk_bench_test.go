package oss

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/persist"
)

// BenchmarkSlowDiskThroughput runs 64 clients over a 3-node loopback QUIC
// cluster whose logs take 2 ms to sync (a file system in memory that
// sleeps in every sync, holding no processor): a disk slow enough that the
// commit pipeline, not the processors, sets the rate. It reports commits/s
// and the commits per 2 ms, which counts how many sync times a commit
// takes: the fewer a commit waits for, the more fit in one.
func BenchmarkSlowDiskThroughput(b *testing.B) {
	const syncTime = 2 * time.Millisecond
	c := newQUICClusterWith(b, 20*time.Millisecond, func(cfg *Config) {
		ffs := &persist.FaultFS{FS: persist.NewMemFS()}
		ffs.SetRule(func(op persist.Op, _ string) error {
			if op == persist.OpSync {
				time.Sleep(syncTime)
			}
			return nil
		})
		cfg.FS, cfg.DataDir = ffs, "/data"
	}, "a", "b", "c")
	hs := c.openEverywhere("bench")
	var heaps []*Heap
	for _, h := range hs {
		heaps = append(heaps, h)
	}
	const clients = 64
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		h := heaps[i%len(heaps)]
		wg.Go(func() {
			id := uuid.New()
			for next.Add(1) <= int64(b.N) {
				if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, id, avatar{X: 1}) }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	cps := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(cps, "commits/s")
	b.ReportMetric(cps*syncTime.Seconds(), "commits/sync-time")
}
