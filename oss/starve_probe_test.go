package oss_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Probes of "no transaction starves" (docs/design.md) beyond the shape
// its tests cover (each transaction reads and writes one hot key): wide
// readers against narrow writers, transfers between two hot keys, one
// key for everyone, a slow function, read-only Updates and Views mixed
// in, on one node and on three (all of them with OSS_LONG=1, two by
// default: TestStarveProbe). Each runs for a few seconds (starveFor;
// longer with OSS_LONG) and logs a row: Updates, ErrConflict,
// the most runs of one Update, commits/s.

// starveGroup is a group of clients running the same kind of
// transaction.
type starveGroup struct {
	name    string
	clients int
	view    bool // a View, not an Update
	adds    int  // what a commit adds to the keys' sum
	// txn returns the function of one transaction, drawn with rng.
	txn func(rng *rand.Rand) func(*oss.Tx) error
}

// starveResult is what a group's clients measured.
type starveResult struct {
	name      string
	done      int // transactions that returned nil
	conflicts int // Updates that failed with ErrConflict
	unknown   int // Updates that met the group between leaders (ErrCommitUnknown, ErrNoQuorum)
	runs      []int
}

func (r starveResult) maxRuns() int {
	if len(r.runs) == 0 {
		return 0
	}
	return slices.Max(r.runs)
}

func (r starveResult) p99Runs() int {
	if len(r.runs) == 0 {
		return 0
	}
	s := slices.Clone(r.runs)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// starveFor is how long a probe runs: a few seconds, long with OSS_LONG.
func starveFor() time.Duration {
	if os.Getenv("OSS_LONG") != "" {
		return 30 * time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("OSS_STARVE_FOR")); err == nil {
		return d
	}
	return 3 * time.Second
}

// runStarve runs groups on heaps (the clients of each group spread
// round-robin over them) for d, and returns each group's result and the
// wall time. Errors other than ErrConflict and those of a group between
// leaders fail t.
func runStarve(t *testing.T, heaps []*oss.Heap, groups []starveGroup, d time.Duration) ([]starveResult, time.Duration) {
	t.Helper()
	out := make([]starveResult, len(groups))
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	c := 0
	for gi, g := range groups {
		out[gi].name = g.name
		for range g.clients {
			h, seed := heaps[c%len(heaps)], uint64(c)
			c++
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(seed, 17))
				var r starveResult
				for time.Now().Before(end) {
					fn, n := g.txn(rng), 0
					run := func(tx *oss.Tx) error { n++; return fn(tx) }
					var err error
					if g.view {
						err = h.View(context.Background(), run, nil)
					} else {
						err = h.Update(context.Background(), run)
					}
					switch {
					case err == nil:
						r.done++
					case errors.Is(err, oss.ErrConflict):
						r.conflicts++
					case errors.Is(err, oss.ErrCommitUnknown), errors.Is(err, oss.ErrNoQuorum):
						r.unknown++
					default:
						t.Errorf("%s: %v", g.name, err)
						return
					}
					r.runs = append(r.runs, n)
				}
				mu.Lock()
				out[gi].done += r.done
				out[gi].conflicts += r.conflicts
				out[gi].unknown += r.unknown
				out[gi].runs = append(out[gi].runs, r.runs...)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return out, time.Since(start)
}

// starveCluster starts nodes nodes (in memory, or durable on QUIC) and
// opens heap "hot" on each, with a leader.
func starveCluster(t *testing.T, nodes int, durableQUIC bool) (*osstest.Cluster, []*oss.Heap) {
	t.Helper()
	opts := &osstest.Options{Configure: func(_ string, cfg *oss.Config) { cfg.Logger = quietLogger() }}
	if durableQUIC {
		opts.Durable, opts.QUIC = true, true
	}
	c := osstest.Start(t, nodes, opts)
	var heaps []*oss.Heap
	for _, name := range c.Live() {
		heaps = append(heaps, c.Heap(name, "hot"))
	}
	c.WaitLeader("hot")
	return c, heaps
}

// starveAccounts creates n objects holding v on h.
func starveAccounts(t *testing.T, h *oss.Heap, n int, v int64) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
	}
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		for _, id := range ids {
			if err := oss.Put(tx, id, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// starveSum is the sum of ids in h's latest state.
func starveSum(t *testing.T, h *oss.Heap, ids []uuid.UUID) int64 {
	t.Helper()
	var sum int64
	err := h.View(context.Background(), func(tx *oss.Tx) error {
		sum = 0
		for _, id := range ids {
			v, err := oss.Get[int64](tx, id)
			if err != nil {
				return err
			}
			sum += v
		}
		return nil
	}, &oss.ViewOptions{Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// stIncr increments one of ids, drawn with rng.
func stIncr(ids []uuid.UUID) func(rng *rand.Rand) func(*oss.Tx) error {
	return func(rng *rand.Rand) func(*oss.Tx) error {
		id := ids[rng.IntN(len(ids))]
		return func(tx *oss.Tx) error {
			v, err := oss.Get[int64](tx, id)
			if err != nil {
				return err
			}
			return oss.Put(tx, id, v+1)
		}
	}
}

// stWide reads every one of ids and increments one of them.
func stWide(ids []uuid.UUID) func(rng *rand.Rand) func(*oss.Tx) error {
	return func(rng *rand.Rand) func(*oss.Tx) error {
		id := ids[rng.IntN(len(ids))]
		return func(tx *oss.Tx) error {
			var mine int64
			for _, x := range ids {
				v, err := oss.Get[int64](tx, x)
				if err != nil {
					return err
				}
				if x == id {
					mine = v
				}
			}
			return oss.Put(tx, id, mine+1)
		}
	}
}

// stTransfer moves 1 between two of ids, drawn with rng.
func stTransfer(ids []uuid.UUID) func(rng *rand.Rand) func(*oss.Tx) error {
	return func(rng *rand.Rand) func(*oss.Tx) error {
		i := rng.IntN(len(ids))
		j := (i + 1 + rng.IntN(len(ids)-1)) % len(ids)
		from, to := ids[i], ids[j]
		return func(tx *oss.Tx) error {
			a, err := oss.Get[int64](tx, from)
			if err != nil {
				return err
			}
			b, err := oss.Get[int64](tx, to)
			if err != nil {
				return err
			}
			if err := oss.Put(tx, from, a-1); err != nil {
				return err
			}
			return oss.Put(tx, to, b+1)
		}
	}
}

// stSlow reads id, sleeps, and increments it.
func stSlow(id uuid.UUID, d time.Duration) func(rng *rand.Rand) func(*oss.Tx) error {
	return func(*rand.Rand) func(*oss.Tx) error {
		return func(tx *oss.Tx) error {
			v, err := oss.Get[int64](tx, id)
			if err != nil {
				return err
			}
			time.Sleep(d)
			return oss.Put(tx, id, v+1)
		}
	}
}

// stReader reads one of ids and writes nothing.
func stReader(ids []uuid.UUID) func(rng *rand.Rand) func(*oss.Tx) error {
	return func(rng *rand.Rand) func(*oss.Tx) error {
		id := ids[rng.IntN(len(ids))]
		return func(tx *oss.Tx) error {
			_, err := oss.Get[int64](tx, id)
			return err
		}
	}
}

// stReadAll reads every one of ids and writes nothing.
func stReadAll(ids []uuid.UUID) func(rng *rand.Rand) func(*oss.Tx) error {
	return func(*rand.Rand) func(*oss.Tx) error {
		return func(tx *oss.Tx) error {
			for _, id := range ids {
				if _, err := oss.Get[int64](tx, id); err != nil {
					return err
				}
			}
			return nil
		}
	}
}

// starveShape is one probe: its clients on keys hot keys, which hold
// 1000 each.
type starveShape struct {
	name   string
	keys   int
	groups func(ids []uuid.UUID) []starveGroup
}

var starveShapes = []starveShape{
	{name: "wide10", keys: 10, groups: func(ids []uuid.UUID) []starveGroup {
		return []starveGroup{{name: "wide", clients: 4, adds: 1, txn: stWide(ids)}, {name: "narrow", clients: 60, adds: 1, txn: stIncr(ids)}}
	}},
	{name: "wide50", keys: 50, groups: func(ids []uuid.UUID) []starveGroup {
		return []starveGroup{{name: "wide", clients: 4, adds: 1, txn: stWide(ids)}, {name: "narrow", clients: 60, adds: 1, txn: stIncr(ids[:10])}}
	}},
	{name: "transfer", keys: 10, groups: func(ids []uuid.UUID) []starveGroup {
		return []starveGroup{{name: "transfer", clients: 64, txn: stTransfer(ids)}}
	}},
	{name: "onekey", keys: 1, groups: func(ids []uuid.UUID) []starveGroup {
		return []starveGroup{{name: "incr", clients: 64, adds: 1, txn: stIncr(ids)}}
	}},
	{name: "slow", keys: 1, groups: func(ids []uuid.UUID) []starveGroup {
		return []starveGroup{{name: "slow", clients: 2, adds: 1, txn: stSlow(ids[0], 3*time.Millisecond)}, {name: "fast", clients: 30, adds: 1, txn: stIncr(ids)}}
	}},
	{name: "mixed", keys: 10, groups: func(ids []uuid.UUID) []starveGroup {
		return []starveGroup{{name: "incr", clients: 32, adds: 1, txn: stIncr(ids)}, {name: "ro-update", clients: 16, txn: stReader(ids)},
			{name: "view", clients: 2, view: true, txn: stReadAll(ids)}, {name: "wide-ro", clients: 8, txn: stReadAll(ids)}}
	}},
}

// probeStarve runs shape on nodes nodes and reports its rows.
func probeStarve(t *testing.T, shape starveShape, nodes int, durableQUIC bool) []starveResult {
	c, heaps := starveCluster(t, nodes, durableQUIC)
	ids := starveAccounts(t, heaps[0], shape.keys, 1000)
	c.WaitConverged("hot") // a plain View on every node finds the keys
	res, elapsed := runStarve(t, heaps, shape.groups(ids), starveFor())
	var b strings.Builder
	for _, r := range res {
		fmt.Fprintf(&b, "\n| %s | %d | %s | %d | %d | %d | %d | %.0f |", shape.name, nodes, r.name, r.done, r.conflicts, r.unknown, r.maxRuns(), float64(r.done)/elapsed.Seconds())
		fmt.Fprintf(&b, " p99 %d", r.p99Runs())
	}
	t.Logf("shape | nodes | group | done | ErrConflict | unknown | most runs | per s%s", b.String())
	want, unknown := int64(1000*shape.keys), 0
	for i, r := range res {
		want += int64(r.done * shape.groups(ids)[i].adds)
		unknown += r.unknown
		if r.conflicts > 0 {
			t.Errorf("%s: %d Updates failed with ErrConflict", r.name, r.conflicts)
		}
		// On one node, a transaction that reads the same keys on every
		// run loses at most once before its gates exist, and then once
		// to each other client that read one of its keys before: it
		// runs at most 3 + (other clients) times.
		if bound := 3 + starveClients(shape, ids) - 1; nodes == 1 && r.maxRuns() > bound {
			t.Errorf("%s: an Update ran %d times, want at most %d", r.name, r.maxRuns(), bound)
		}
	}
	if got := starveSum(t, heaps[0], ids); unknown == 0 && got != want {
		t.Errorf("the keys add up to %d, want %d", got, want)
	}
	return res
}

// starveClients counts shape's clients.
func starveClients(shape starveShape, ids []uuid.UUID) int {
	n := 0
	for _, g := range shape.groups(ids) {
		n += g.clients
	}
	return n
}

// TestStarveProbe runs, by default, the two shapes the old gates failed
// in a few seconds: wide readers of 10 and of 50 hot keys against narrow
// writers, on three nodes (Updates failed with ErrConflict). Each shape
// takes the processors for its whole run and the test is serial (it
// checks goroutine leaks), so the full set (every shape on one node and
// on three, and transfers durable on QUIC) runs only with OSS_LONG=1.
func TestStarveProbe(t *testing.T) {
	long := os.Getenv("OSS_LONG") != ""
	for _, shape := range starveShapes {
		for _, nodes := range []int{1, 3} {
			if !long && (nodes != 3 || (shape.name != "wide10" && shape.name != "wide50")) {
				continue
			}
			t.Run(fmt.Sprintf("%s/nodes=%d", shape.name, nodes), func(t *testing.T) {
				t.Cleanup(func() { goleak.VerifyNone(t) })
				probeStarve(t, shape, nodes, false)
			})
		}
	}
	if !long {
		return
	}
	t.Run("transfer/quic-durable", func(t *testing.T) {
		t.Cleanup(func() { goleak.VerifyNone(t) })
		probeStarve(t, starveShapes[2], 3, true)
	})
}
