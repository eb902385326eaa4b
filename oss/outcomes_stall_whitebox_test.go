package oss

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// The outcomes probe with disks that stall rather than fail: a node's
// writes and syncs hang for a while with commits in flight (its loop
// holds proposals for the log, a leader's followers commit without it);
// a follower cut off long enough that it catches up from its leader's
// snapshot, stored on a disk that stalls meanwhile (its loop waits for
// the disk, commits it took are abandoned by their callers); the leader
// crashed, once the group has one. The leader keeps little log for a
// follower behind (lagCap), so a follower cut off for a few hundred
// commits needs a snapshot. At the end every replica must hold every
// marker whose commit returned nil and none whose commit failed, and
// counters that agree with the markers present.
func TestOutcomesProbeDiskStalls(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := outcomesSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (OSS_OUTCOMES_SEED=%d to run it again)", seed, seed)
		}
	})
	hs := newHarnessWith(t, seed, 3, true, lagCap)
	p := &outcomesProbe{hs: hs, seed: seed}
	p.runStalls(8, harnessTime())
	p.check()
	t.Logf("seed %d: stalls (disk, cut off then stalled, leader crash, other; snapshots taken by one cut off, if seen) %v", seed, p.stalls)
}

// runStalls starts clients, runs the stalling nemesis for d, and stops
// the clients.
func (p *outcomesProbe) runStalls(clients int, d time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for c := range clients {
		wg.Go(func() { p.client(c, stop) })
	}
	rng := rand.New(rand.NewPCG(p.seed, 0x7374616c6c))
	for start := time.Now(); time.Since(start) < d; {
		p.stallNemesis(rng)
	}
}

// stallNemesis injects one fault and ends it.
func (p *outcomesProbe) stallNemesis(rng *rand.Rand) {
	hs := p.hs
	kind := rng.IntN(len(p.stalls) - 1)
	p.stalls[kind]++
	switch kind {
	case 0:
		nodes := hs.live()
		name := nodes[rng.IntN(len(nodes))]
		hs.t.Logf("stall: the disk of %s", name)
		p.stallDisk(name, time.Duration(20+rng.IntN(400))*time.Millisecond)
	case 1:
		lead := p.waitLeader()
		var others []string
		for _, n := range hs.live() {
			if n != lead {
				others = append(others, n)
			}
		}
		f := others[rng.IntN(len(others))]
		hs.t.Logf("stall: %s cut off, then its disk stalls as it catches up", f)
		var rest []string
		for _, n := range hs.live() {
			if n != f {
				rest = append(rest, n)
			}
		}
		hs.mu.Lock()
		h := hs.heaps[f]
		hs.mu.Unlock()
		before := h.snapshots.Load()
		hs.c.net.Partition([]string{f}, rest)
		time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
		release := p.holdDisk(f)
		hs.c.net.Heal()
		probeHold(rng, 400)
		release()
		probeHold(rng, 300)
		if h.snapshots.Load() != before {
			p.stalls[len(p.stalls)-1]++
		}
	case 2:
		lead := p.waitLeader()
		hs.t.Logf("stall: %s, the leader, crashes", lead)
		p.crash(rng, lead)
	case 3:
		p.nemesis(rng)
	}
	hs.heal()
	probeHold(rng, 200)
}

// waitLeader waits until a live node leads the heap and returns it: a
// group between leaders has none for a moment.
func (p *outcomesProbe) waitLeader() string {
	var lead string
	waitCond(p.hs.t, "a leader of the harness heap", func() bool {
		g, ok := p.hs.c.group(harnessHeap)
		lead = g.Leader
		return ok
	})
	return lead
}

// stallDisk makes every write and sync of a node's disk wait for d.
func (p *outcomesProbe) stallDisk(name string, d time.Duration) {
	release := p.holdDisk(name)
	time.Sleep(d)
	release()
}

// holdDisk makes every write and sync of a node's disk wait until the
// function it returns is called.
func (p *outcomesProbe) holdDisk(name string) (release func()) {
	p.hs.mu.Lock()
	f := p.hs.faultFS[name]
	p.hs.mu.Unlock()
	let := make(chan struct{})
	f.SetRule(func(op persist.Op, _ string) error {
		if op == persist.OpWrite || op == persist.OpSync {
			<-let
		}
		return nil
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			f.SetRule(nil)
			close(let)
		})
	}
}
