package oss_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkMetricsScrape runs the uncontended Update load of
// BenchmarkUpdate without a scraper, with one gathering the node's
// metrics every second (what Prometheus does at most), and with one every
// 10 ms (to make a scrape's cost visible), side by side in one run.
func BenchmarkMetricsScrape(b *testing.B) {
	for _, sc := range []struct {
		name  string
		every time.Duration
	}{{"none", 0}, {"every-1s", time.Second}, {"every-10ms", 10 * time.Millisecond}} {
		b.Run(sc.name, func(b *testing.B) {
			n, h := openHeap(b, nil)
			ids := fill(b, h, 4096)
			reg := prometheus.NewRegistry()
			reg.MustRegister(n.Metrics())
			stop := make(chan struct{})
			done := make(chan struct{})
			var scrapes atomic.Int64
			go func() {
				defer close(done)
				if sc.every == 0 {
					return
				}
				t := time.NewTicker(sc.every)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						if _, err := reg.Gather(); err != nil {
							b.Error(err)
						}
						scrapes.Add(1)
					}
				}
			}()
			var next atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := ids[next.Add(1)%int64(len(ids))]
				for pb.Next() {
					if err := incr(h, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			close(stop)
			<-done
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			b.ReportMetric(float64(scrapes.Load())/b.Elapsed().Seconds(), "scrapes/s")
		})
	}
}
