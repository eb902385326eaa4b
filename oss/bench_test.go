package oss_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

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
// must not depend on the size.
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

// BenchmarkUpdate commits read-modify-write transactions from 64
// goroutines: on distinct objects (uncontended) and on one hot object
// (contended, reporting commits and conflicts per second).
func BenchmarkUpdate(b *testing.B) {
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
