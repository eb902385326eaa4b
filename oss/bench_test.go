package oss_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

type avatar struct {
	Name    string
	X, Y, Z float64
	Heading float32
	Color   uint32
}

// fill creates n objects in transactions of up to 10,000 objects.
func fill(b *testing.B, h *oss.Heap, n int) []uuid.UUID {
	b.Helper()
	ids := make([]uuid.UUID, 0, n)
	for len(ids) < n {
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			for i := 0; i < 10000 && len(ids) < n; i++ {
				ref, err := oss.New(tx, avatar{Name: "bot", X: float64(i)})
				if err != nil {
					return err
				}
				ids = append(ids, ref.ID)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// BenchmarkViewGet reads and decodes one small struct in a View.
func BenchmarkViewGet(b *testing.B) {
	_, h := openHeap(b, nil)
	ids := fill(b, h, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := ids[i%len(ids)]
		i++
		err := h.View(context.Background(), func(tx *oss.Tx) error {
			_, err := oss.Get[avatar](tx, id)
			return err
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot takes a View of heaps of different sizes: the cost
// must not depend on the size. Taking a View is an atomic load of the
// State the loop published; the copy-on-write that makes that State
// immutable is paid by the apply loop, which BenchmarkApply measures.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			_, h := openHeap(b, nil)
			fill(b, h, n)
			runtime.GC() // measure the View, not the collection of the fill
			b.ReportAllocs()
			for b.Loop() {
				if err := h.View(context.Background(), func(tx *oss.Tx) error { return nil }, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApply measures the apply throughput of a heap of 100,000
// objects, one in-memory node, 16 writers each committing blind writes of
// 10 random objects, with Views held open or not. Each applied batch
// publishes a State sharing the live B-trees (an O(1) Copy), so the next
// write to a node copies it (copy-on-write, degree 16): that cost is paid
// whether or not anyone reads. What Views held open add is that the nodes
// they pin stay alive: retained memory and the collector's work.
//
//   - views=0: no View open.
//   - views=1-pinned: one View open for the whole run, taken before it:
//     every B-tree node written during the run is kept twice.
//   - views=16-rolling: 16 readers each hold a View for 1 ms and take the
//     next, as renderers reading frame after frame do.
//
// It reports commits/s, objects/s, bytes allocated per commit (B/op: the
// copied nodes are most of it) and the Go heap in use at the end, with
// the Views still open (live-MB).
func BenchmarkApply(b *testing.B) {
	for _, views := range []string{"0", "1-pinned", "16-rolling"} {
		b.Run("views="+views, func(b *testing.B) {
			_, h := openHeap(b, nil)
			ids := fill(b, h, 100_000)
			ctx, cancel := context.WithCancel(context.Background())
			var readers sync.WaitGroup
			hold := func(d time.Duration) error {
				return h.View(ctx, func(tx *oss.Tx) error {
					select {
					case <-ctx.Done():
					case <-time.After(d):
					}
					return nil
				}, nil)
			}
			switch views {
			case "1-pinned":
				opened := make(chan struct{})
				readers.Go(func() {
					h.View(ctx, func(tx *oss.Tx) error {
						close(opened)
						<-ctx.Done()
						return nil
					}, nil)
				})
				<-opened
			case "16-rolling":
				for range 16 {
					readers.Go(func() {
						for ctx.Err() == nil {
							hold(time.Millisecond)
						}
					})
				}
			}
			runtime.GC()
			const writers, objects = 16, 10
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for next.Add(1) <= int64(b.N) {
						err := h.Update(context.Background(), func(tx *oss.Tx) error {
							for range objects {
								if err := oss.Put(tx, ids[rng.IntN(len(ids))], avatar{Name: "bot", X: 1}); err != nil {
									return err
								}
							}
							return nil
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			b.ReportMetric(float64(b.N*objects)/b.Elapsed().Seconds(), "objects/s")
			runtime.GC()
			s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			metrics.Read(s)
			b.ReportMetric(float64(s[0].Value.Uint64())/1e6, "live-MB")
			cancel()
			readers.Wait()
		})
	}
}

// BenchmarkUpdate commits read-modify-write transactions from 64
// goroutines: on distinct objects (uncontended) and on one hot object
// (contended, reporting commits and conflicts per second); and from one
// goroutine on random objects of 100,000 (one-client: an op is one
// Update, its allocations those of the caller and the node's loop).
func BenchmarkUpdate(b *testing.B) {
	b.Run("one-client", func(b *testing.B) {
		_, h := openHeap(b, nil)
		ids := fill(b, h, 100_000)
		rng := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := incr(h, ids[rng.IntN(len(ids))]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncontended", func(b *testing.B) {
		_, h := openHeap(b, nil)
		ids := fill(b, h, 4096)
		var next atomic.Int64
		b.SetParallelism(32)
		b.ReportAllocs()
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
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		st := h.Stats()
		b.ReportMetric(float64(st.Conflicts)/b.Elapsed().Seconds(), "conflicts/s")
	})
	b.Run("contended", func(b *testing.B) {
		_, h := openHeap(b, &oss.Config{MaxRetries: 1 << 20})
		id := fill(b, h, 1)[0]
		b.SetParallelism(32)
		start := h.Stats()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := incr(h, id); err != nil {
					b.Error(err)
					return
				}
			}
		})
		st := h.Stats()
		b.ReportMetric(float64(st.Commits-start.Commits)/b.Elapsed().Seconds(), "commits/s")
		b.ReportMetric(float64(st.Conflicts-start.Conflicts)/b.Elapsed().Seconds(), "conflicts/s")
	})
}

func incr(h *oss.Heap, id uuid.UUID) error {
	return h.Update(context.Background(), func(tx *oss.Tx) error {
		a, err := oss.Get[avatar](tx, id)
		if err != nil {
			return err
		}
		a.X++
		return oss.Put(tx, id, a)
	})
}
