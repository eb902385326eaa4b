package oss_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// BenchmarkWatchRate commits from 8 writers, each commit writing two
// objects with one counter (b.N commits in all, paced to a rate or as
// fast as they go), while a consumer takes events from a watch as fast as
// Next gives them: a plain watch (one event per commit), one shaped to
// 20 events a second, or none (the writers alone, for comparison). The
// consumer checks every event (both objects of a commit or neither, equal
// counters; a merged event follows on from the one before) and the
// figures are commits/s, events/s, the most events in any one-second
// window, commits/event and resyncs. The first event comes at once, so
// over a short run events/s may pass the rate; max-events/1s is the bound
// to read. Run it for a few seconds, so that a second has room to fill:
//
//	go test -run '^$' -bench BenchmarkWatchRate -benchtime 5s ./oss
func BenchmarkWatchRate(b *testing.B) {
	for _, bc := range []struct {
		name string
		pace float64           // commits a second, 0 as fast as they go
		opts *oss.WatchOptions // nil: no watch, the writers alone
	}{
		{"every/commits=10000", 10000, &oss.WatchOptions{}},
		{"rate=20/commits=10000", 10000, &oss.WatchOptions{Rate: 20}},
		{"rate=20/commits=max", 0, &oss.WatchOptions{Rate: 20}},
		{"none/commits=max", 0, nil},
	} {
		b.Run(bc.name, func(b *testing.B) { benchWatch(b, bc.pace, bc.opts) })
	}
}

func benchWatch(b *testing.B, pace float64, watch *oss.WatchOptions) {
	_, h := openHeap(b, nil)
	const writers = 8
	pairs := make([][2]uuid.UUID, writers)
	for i := range pairs {
		pairs[i] = [2]uuid.UUID{uuid.New(), uuid.New()}
	}

	var (
		last, progress  atomic.Uint64
		reached         = make(chan struct{})
		stamps          []time.Time
		commits, resync int
		consumer        sync.WaitGroup
		w               *oss.Watch
	)
	if watch != nil {
		opts := *watch
		opts.From = h.Stats().Applied
		var err error
		if w, err = h.Watch(&opts); err != nil {
			b.Fatal(err)
		}
		defer consumer.Wait()
		defer w.Close() // ends the consumer
		consumer.Add(1)
		go func() {
			defer consumer.Done()
			prev := opts.From
			for {
				ev, err := w.Next(context.Background())
				if err != nil {
					return
				}
				stamps = append(stamps, time.Now())
				switch ev.Kind {
				case oss.EventResync:
					resync++
				case oss.EventChange:
					if opts.Rate > 0 && ev.FromIndex != prev+1 {
						b.Errorf("event %d..%d after %d: a gap", ev.FromIndex, ev.Index, prev)
						return
					}
					commits += ev.Commits
					checkPairs(b, ev, pairs)
				}
				prev = ev.Index
				progress.Store(ev.Index)
				if l := last.Load(); l != 0 && ev.Index >= l {
					close(reached)
					return
				}
			}
		}()
	}

	b.ResetTimer()
	begin := time.Now()
	var writing sync.WaitGroup
	tops := make([]uint64, writers)
	for g := range writers {
		writing.Add(1)
		go func() {
			defer writing.Done()
			a, c := pairs[g][0], pairs[g][1]
			for k := g; k < b.N; k += writers {
				if pace > 0 {
					time.Sleep(time.Until(begin.Add(time.Duration(float64(k) / pace * float64(time.Second)))))
				}
				err := h.Update(context.Background(), func(tx *oss.Tx) error {
					tx.OnCommit(func() { tops[g] = tx.Index() })
					oss.Put(tx, a, counter{k})
					return oss.Put(tx, c, counter{k})
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	writing.Wait()
	wrote := time.Since(begin)
	b.ReportMetric(float64(b.N)/wrote.Seconds(), "commits/s")
	if watch == nil || b.Failed() {
		return
	}
	top := uint64(0)
	for _, t := range tops {
		top = max(top, t)
	}
	last.Store(top)
	if progress.Load() < top {
		<-reached
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	w.Close()
	consumer.Wait()

	most := 0
	for i, j := 0, 0; j < len(stamps); j++ {
		for stamps[j].Sub(stamps[i]) >= time.Second {
			i++
		}
		most = max(most, j-i+1)
	}
	if resync == 0 && commits != b.N {
		b.Fatalf("events carried %d commits, want %d", commits, b.N)
	}
	b.ReportMetric(float64(len(stamps))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(most), "max-events/1s")
	b.ReportMetric(float64(commits)/float64(max(len(stamps)-resync, 1)), "commits/event")
	b.ReportMetric(float64(resync), "resyncs")
}

// checkPairs checks that an event holds each pair as one commit wrote
// it: both objects or neither, with equal counters.
func checkPairs(b *testing.B, ev *oss.Event, pairs [][2]uuid.UUID) {
	seen := make(map[uuid.UUID]oss.Change, len(ev.Objects))
	for _, c := range ev.Objects {
		seen[c.ID] = c
	}
	for _, p := range pairs {
		ca, okA := seen[p[0]]
		cb, okB := seen[p[1]]
		if okA != okB {
			b.Errorf("event %d..%d holds one object of a commit", ev.FromIndex, ev.Index)
			return
		}
		if !okA {
			continue
		}
		var na, nb counter
		if ca.Decode(&na) != nil || cb.Decode(&nb) != nil || na != nb || ca.Version != cb.Version {
			b.Errorf("event %d..%d holds %v at %d and %v at %d: part of a commit", ev.FromIndex, ev.Index, na, ca.Version, nb, cb.Version)
			return
		}
	}
}
