package oss

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Replica management across harder partitions than the removals
// nemesis's, with membership following the network and ReplaceAfter
// 300 ms: the same node cut off again and again while its leaders replace
// it, partitions flapping every few hundred milliseconds, and two nodes
// cut off at once for seconds (past the leaderless limit), a Fresh view
// on one of them saying it has no quorum or reading, never waiting out
// its context. Then: no anomaly, nothing acknowledged lost, every replica
// a member that hears its leader, Fresh views agreeing, and the catalog
// and the heap back at their numbers of voters.
func TestHarnessRemovalsFlapping(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	hs := newHarness(t, harnessSeeds(7), 6, false)
	hs.c.followPartitions()
	want := map[string]int{}
	for _, heap := range []string{catalogName, harnessHeap} {
		want[heap] = len(hs.c.waitGroup(t, heap).Voters)
	}
	hs.run(6, harnessTime(), hs.flapping)
	hs.finish()
	hs.allCurrent()
	for heap, n := range want {
		waitCond(t, heap+" back at its voters", func() bool {
			g, ok := hs.c.group(heap)
			return ok && len(g.Voters) == n && !g.Joint
		})
	}
	t.Logf("seed %d: faults %v", hs.seed, hs.faults)
}

// flapping is the nemesis of TestHarnessRemovalsFlapping.
func (hs *harness) flapping(rng *rand.Rand) {
	nodes := hs.live()
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	sleep := func(lo, spread int) { time.Sleep(time.Duration(lo+rng.IntN(spread)) * time.Millisecond) }
	switch rng.IntN(3) {
	case 0:
		for range 3 + rng.IntN(4) {
			hs.c.net.Partition(nodes[:1], nodes[1:])
			hs.faults["repeated isolation"]++
			sleep(300, 900)
			hs.c.net.Heal()
			sleep(50, 200)
		}
	case 1:
		for range 5 + rng.IntN(10) {
			rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
			k := 1 + rng.IntN(len(nodes)-1)
			hs.c.net.Partition(nodes[:k], nodes[k:])
			hs.faults["flap"]++
			sleep(100, 300)
			hs.c.net.Heal()
			sleep(100, 300)
		}
	case 2:
		hs.c.net.Partition(nodes[:2], nodes[2:])
		hs.faults["two cut off"]++
		hs.saysNoQuorum(nodes[0])
		sleep(500, 1500)
	}
	hs.heal()
	sleep(200, 600)
}

// saysNoQuorum runs a Fresh view on a node cut off with one other: it
// reads (its side holds a majority of the heap) or fails with
// ErrNoQuorum, before its context ends.
func (hs *harness) saysNoQuorum(name string) {
	hs.mu.Lock()
	h := hs.heaps[name]
	hs.mu.Unlock()
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := h.View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true})
	switch {
	case err == nil:
		hs.faults["fresh view on the cut-off side read"]++
	case errors.Is(err, ErrNoQuorum) && ctx.Err() == nil:
		hs.faults["fresh view on the cut-off side: no quorum"]++
	default:
		hs.t.Errorf("seed %d: a Fresh view on %s, cut off with another node, did not say it had no quorum: %v", hs.seed, name, err)
	}
}
