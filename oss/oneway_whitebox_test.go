package oss

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/internal/testkit/check"
)

// onewayProbe is the object a commit during a one-way fault writes: no
// client of the harness reads it, so the history is not changed.
var onewayProbe = uuid.UUID{0: 'p', 15: 1}

// oneway cuts links one way only, around the leader of the heap or of
// the catalog: the leader deaf (it sends, hears nobody), the leader mute
// (it hears, reaches nobody), a follower the leader cannot reach (it
// still reaches the leader), a follower that hears the leader but cannot
// answer it, or the leader and a follower cut both ways with every other
// node bridging them. A majority stays connected both ways, so while the
// cut lasts a node of it must commit: the test waits (await.Deadline)
// for a commit through such a node before it holds the cut a while
// longer and heals. Or, now and then, random links cut one way each
// (no commit awaited).
func (hs *harness) oneway(rng *rand.Rand) {
	nodes := hs.live()
	heap := harnessHeap
	if rng.IntN(3) == 0 {
		heap = catalogName
	}
	g, ok := hs.c.group(heap)
	if !ok || rng.IntN(6) == 0 {
		hs.randomOneway(rng, nodes)
		return
	}
	lead := g.Leader
	others := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == lead })
	f := others[rng.IntN(len(others))]
	var cuts [][2]string
	var kind string
	majority := others // nodes connected both ways among themselves
	c := rng.IntN(5)
	cutOff := lead
	if c >= 2 {
		cutOff = f
	}
	switch c {
	case 0:
		kind = "leader deaf"
		for _, o := range others {
			cuts = append(cuts, [2]string{o, lead})
		}
	case 1:
		kind = "leader mute"
		for _, o := range others {
			cuts = append(cuts, [2]string{lead, o})
		}
	case 2:
		kind, majority = "follower unreached", slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == f })
		cuts = append(cuts, [2]string{lead, f})
	case 3:
		kind, majority = "follower unheard", slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == f })
		cuts = append(cuts, [2]string{f, lead})
	case 4:
		kind, majority = "leader-follower bridged", slices.DeleteFunc(slices.Clone(others), func(n string) bool { return n == f })
		cuts = append(cuts, [2]string{f, lead}, [2]string{lead, f})
	}
	hs.c.net.CutOneWay(cuts...)
	hs.faults[heap+" "+kind]++
	hs.commitThrough(majority[rng.IntN(len(majority))], kind)
	if heap == harnessHeap {
		hs.cutOffClient(cutOff, kind, rng)
	}
	time.Sleep(time.Duration(100+rng.IntN(1500)) * time.Millisecond)
	hs.heal()
	time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
}

// randomOneway cuts each link one way with probability 0.3 for a while.
func (hs *harness) randomOneway(rng *rand.Rand, nodes []string) {
	var cuts [][2]string
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b && rng.IntN(10) < 3 {
				cuts = append(cuts, [2]string{a, b})
			}
		}
	}
	hs.c.net.CutOneWay(cuts...)
	hs.faults["random one-way"]++
	time.Sleep(time.Duration(100+rng.IntN(2000)) * time.Millisecond)
	hs.heal()
	time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
}

// commitThrough commits to the probe object through name's heap, trying
// again after every error, until one commits or await.Deadline passes,
// which fails the test: a majority connected both ways must elect a
// leader that commits whatever the cut-off node does.
func (hs *harness) commitThrough(name, kind string) {
	hs.mu.Lock()
	h := hs.heaps[name]
	hs.mu.Unlock()
	deadline := time.Now().Add(await.Deadline)
	var last error
	for tries := 1; ; tries++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last = h.Update(ctx, func(tx *Tx) error { return Put(tx, onewayProbe, acct{int64(tries)}) })
		cancel()
		if last == nil {
			return
		}
		if time.Now().After(deadline) {
			hs.t.Fatalf("seed %d: %s: no commit through %s, connected both ways to a majority, in %v: %v", hs.seed, kind, name, await.Deadline, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cutOffClient commits through name, which a cut may have cut off, with
// a short context, and counts how it ended: whatever the error, the call
// must end once its context has (a call still running await.Deadline
// after fails the test).
func (hs *harness) cutOffClient(name, kind string, rng *rand.Rand) {
	hs.mu.Lock()
	h := hs.heaps[name]
	hs.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(50+rng.IntN(500))*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Update(ctx, func(tx *Tx) error { return Put(tx, onewayProbe, acct{-1}) }) }()
	err := await.Recv(hs.t, done, "a commit through "+name+" to end after its context")
	switch status(err) {
	case check.OK:
		hs.faults[kind+": cut-off client ok"]++
	case check.Info:
		hs.faults[kind+": cut-off client unknown"]++
	default:
		hs.faults[kind+": cut-off client failed"]++
	}
}

// terms returns the highest term any replica of the heap has seen.
func (hs *harness) term(heap string) uint64 {
	var t uint64
	for _, n := range hs.c.nodes {
		if h := n.replicaOf(heap); h != nil {
			t = max(t, h.Stats().Term)
		}
	}
	return t
}

// One-way cuts around the leaders of the heap and the catalog on five
// in-memory nodes: a connected majority commits while a cut lasts, no
// anomaly, nothing acknowledged lost, and after the cuts every replica
// is current and fresh views agree.
func TestHarnessOneWayCuts(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	hs := newHarness(t, harnessSeeds(11), 5, false)
	before := [2]uint64{hs.term(harnessHeap), hs.term(catalogName)}
	hs.run(6, harnessTime(), hs.oneway)
	hs.finish()
	hs.allCurrent()
	t.Logf("seed %d: terms of the heap %d → %d, of the catalog %d → %d", hs.seed,
		before[0], hs.term(harnessHeap), before[1], hs.term(catalogName))
}
