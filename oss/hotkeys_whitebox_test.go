package oss

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// hotRun is what a run of the hot-keys workload measured.
type hotRun struct {
	commits   int           // Updates that returned nil
	conflicts int           // Updates that failed with ErrConflict
	between   int           // Updates that met the group between leaders and did not commit (runHotFixed)
	runs      []int         // runs of the function of every Update that returned
	elapsed   time.Duration // wall time of the whole run
}

func (r hotRun) maxRuns() int { return slices.Max(r.runs) }

func (r hotRun) p99Runs() int {
	s := slices.Clone(r.runs)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// hotKeys creates keys counters, set to 0, on h, waiting for a leader
// (untilCommitted): the keys are chosen once, so a commit again writes
// the same ones.
func hotKeys(tb testing.TB, h *Heap, keys int) []uuid.UUID {
	tb.Helper()
	ids := make([]uuid.UUID, keys)
	for i := range ids {
		ids[i] = uuid.New()
	}
	untilCommitted(tb, "the counters", h, func(tx *Tx) error {
		for _, id := range ids {
			if err := Put(tx, id, int64(0)); err != nil {
				return err
			}
		}
		return nil
	})
	return ids
}

// runHot is the workload of issue 16's "no transaction starves": clients
// goroutines, spread round-robin over heaps (replicas of one heap on
// different nodes), each incrementing a counter chosen at random among ids
// in an Update with the heaps' settings, until total Updates have
// returned. Every Update's function runs are counted; an Update that
// fails with ErrConflict is counted and its client goes on; any other
// error fails tb.
func runHot(tb testing.TB, heaps []*Heap, ids []uuid.UUID, clients, total int) hotRun {
	var next atomic.Int64
	var mu sync.Mutex
	var r hotRun
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		h := heaps[c%len(heaps)]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 16))
			var runs []int
			commits, conflicts := 0, 0
			for next.Add(1) <= int64(total) {
				id := ids[rng.IntN(len(ids))]
				n := 0
				err := h.Update(context.Background(), func(tx *Tx) error {
					n++
					v, err := Get[int64](tx, id)
					if err != nil {
						return err
					}
					return Put(tx, id, v+1)
				})
				switch {
				case err == nil:
					commits++
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					tb.Error(err)
					return
				}
				runs = append(runs, n)
			}
			mu.Lock()
			r.commits += commits
			r.conflicts += conflicts
			r.runs = append(r.runs, runs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// hotSum returns the sum of the counters in h's latest state.
func hotSum(tb testing.TB, h *Heap, ids []uuid.UUID) int64 {
	tb.Helper()
	var sum int64
	// A fresh read needs a leader: tried again while the group is
	// between leaders.
	untilLeader(tb, "a fresh read of the counters", func(ctx context.Context) error {
		sum = 0
		return h.View(ctx, func(tx *Tx) error {
			for _, id := range ids {
				v, err := Get[int64](tx, id)
				if err != nil {
					return err
				}
				sum += v
			}
			return nil
		}, &ViewOptions{Fresh: true})
	})
	return sum
}

// BenchmarkHotKeys runs issue 16's contended workload in process: 64
// clients incrementing counters chosen at random among 10, with the
// default settings (MaxRetries 100), on one node and on a 3-node loopback
// QUIC cluster (memory only) with the clients spread over the nodes. It
// reports commits/s, the most runs of the function of any one Update, the
// 99th percentile of runs, and the Updates that failed with ErrConflict.
func BenchmarkHotKeys(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(map[int]string{1: "nodes=1", 3: "nodes=3"}[nodes], func(b *testing.B) {
			names := []string{"a", "b", "c"}[:nodes]
			c := newQUICClusterTick(b, 100*time.Millisecond, names...)
			hs := c.openEverywhere("hot")
			var heaps []*Heap
			for _, name := range names {
				heaps = append(heaps, hs[name])
			}
			ids := hotKeys(b, heaps[0], 10)
			b.ResetTimer()
			r := runHot(b, heaps, ids, 64, b.N)
			b.StopTimer()
			if got := hotSum(b, heaps[0], ids); got != int64(r.commits) {
				b.Fatalf("counters add up to %d, %d Updates committed", got, r.commits)
			}
			b.ReportMetric(float64(r.commits)/r.elapsed.Seconds(), "commits/s")
			b.ReportMetric(float64(r.maxRuns()), "max-runs")
			b.ReportMetric(float64(r.p99Runs()), "p99-runs")
			b.ReportMetric(float64(r.conflicts), "conflicts")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// runHotFixed is runHot with client c on key c%len(ids), perClient Updates
// each. An Update that met its group between leaders (an election, which
// a loaded machine brings now and then on three nodes) is not one of
// them: its client learns whether it committed (hotUpdate) and goes on
// until perClient have committed or failed with ErrConflict. Those
// Updates are counted in between.
func runHotFixed(tb testing.TB, heaps []*Heap, ids []uuid.UUID, clients, perClient int) hotRun {
	var mu sync.Mutex
	var r hotRun
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		h, id, own := heaps[c%len(heaps)], ids[c%len(ids)], uuid.New()
		wg.Go(func() {
			var done int64 // this client's commits, as its own counter holds them
			for k := 0; k < perClient; {
				n, err := hotUpdate(h, id, own, done)
				mu.Lock()
				r.runs = append(r.runs, n)
				switch {
				case err == nil:
					r.commits++
					done++
					k++
				case errors.Is(err, ErrConflict):
					r.conflicts++
					k++
				case errors.Is(err, errNotCommitted):
					r.between++
				default:
					tb.Error(err)
					k = perClient
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// errNotCommitted is hotUpdate's error for an Update that met its group
// between leaders and did not commit.
var errNotCommitted = errors.New("met the group between leaders; not committed")

// hotUpdate increments the counter id, and the client's own counter own,
// which holds done, in one Update, and returns its function's runs and
// its error. An Update that met its group between leaders returns nil
// if it committed and errNotCommitted if it did not: refused for want of
// a leader (ErrNoQuorum), or, its outcome unknown, as a fresh read of
// own says once a leader answers.
func hotUpdate(h *Heap, id, own uuid.UUID, done int64) (int, error) {
	n := 0
	err := h.Update(context.Background(), func(tx *Tx) error {
		n++
		v, err := Get[int64](tx, id)
		if err != nil {
			return err
		}
		mine, err := Get[int64](tx, own)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := Put(tx, id, v+1); err != nil {
			return err
		}
		return Put(tx, own, mine+1)
	})
	switch {
	case errors.Is(err, ErrCommitUnknown):
	case errors.Is(err, ErrNoQuorum):
		return n, errNotCommitted
	default:
		return n, err
	}
	for deadline := time.Now().Add(await.Deadline); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var mine int64
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = h.View(ctx, func(tx *Tx) error {
			var err error
			if mine, err = Get[int64](tx, own); errors.Is(err, ErrNotFound) {
				err = nil
			}
			return err
		}, &ViewOptions{Fresh: true})
		cancel()
		switch {
		case err == nil && mine == done+1:
			return n, nil
		case err == nil && mine == done:
			return n, errNotCommitted
		case err == nil:
			return n, fmt.Errorf("a client's own counter holds %d after its %d commits", mine, done)
		case !leaderless(err):
			return n, err
		}
	}
	return n, fmt.Errorf("no fresh read of a client's own counter in %v: %w", await.Deadline, err)
}

// TestHotKeysNoStarvation: 64 clients increment 10 counters with the
// default settings. On one node this holds by construction, whatever the
// load: a transaction that lost holds its key's gate until it commits, so
// it loses again only to a transaction of another client of the key that
// proposed before the gate existed, once per such client; with 6 or 7
// clients a key, an Update runs at most 1 + 1 (its gate found it stale) +
// 6 + 1 = 9 times. Across 3 nodes, the turns the nodes take rest on
// timing (a yield lasts at most fairYield), so the test asserts there only
// what the default MaxRetries guarantees, no ErrConflict, and logs the
// most runs (issue 16 asks for at most 20; BenchmarkHotKeys measures it).
func TestHotKeysNoStarvation(t *testing.T) {
	t.Parallel()
	for _, nodes := range []int{1, 3} {
		t.Run(map[int]string{1: "nodes=1", 3: "nodes=3"}[nodes], func(t *testing.T) {
			names := []string{"a", "b", "c"}[:nodes]
			c := newQUICClusterTick(t, 100*time.Millisecond, names...)
			hs := c.openEverywhere("hot")
			var heaps []*Heap
			for _, name := range names {
				heaps = append(heaps, hs[name])
			}
			ids := hotKeys(t, heaps[0], 10)
			const clients, each = 64, 30
			r := runHotFixed(t, heaps, ids, clients, each)
			t.Logf("%d commits in %v, most runs %d, p99 %d, %d ErrConflict, %d between leaders", r.commits, r.elapsed, r.maxRuns(), r.p99Runs(), r.conflicts, r.between)
			if r.conflicts != 0 {
				t.Errorf("%d Updates failed with ErrConflict", r.conflicts)
			}
			if got := hotSum(t, heaps[0], ids); got != clients*each || r.commits != clients*each {
				t.Errorf("counters add up to %d, %d Updates committed, want %d", got, r.commits, clients*each)
			}
			if nodes == 1 && r.maxRuns() > 9 {
				t.Errorf("an Update ran %d times, want at most 9", r.maxRuns())
			}
		})
	}
}
