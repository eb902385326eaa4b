package oss

import (
	"context"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/transport/transporttest"
)

// The outcomes probe over moving replicas: a heap of three voters on a
// cluster of seven, opened on every node (four of them learners that
// forward their commits), with clients writing unique markers through
// Update and Begin/Commit on every node, their contexts ending at drawn
// moments. The nemesis removes nodes one at a time, as a crash would
// (kill) or by a Close whose context ends at a drawn moment (the hand-over
// of its leadership and voters cut short or not), so the heap's voters
// move to the spares while commits are in flight on the node that goes;
// between removals it cuts the leader off, or makes the network lossy.
// At the end every remaining replica must hold every marker whose commit
// returned nil, none whose commit returned a definite failure, and
// counters that agree with the markers present.

const movesHeap = "moves"

type movesProbe struct {
	t    *testing.T
	c    *testCluster
	seed uint64

	mu     sync.Mutex
	heaps  map[string]*Heap // the live nodes' handles
	ops    []probeOp
	faults [4]int // kill, close, cut off, lossy
	fresh  [2]int // Fresh Views after a commit: answered, failed
}

func movesSeed() uint64 {
	if s := os.Getenv("OSS_MOVES_SEED"); s != "" {
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return v
		}
	}
	return rand.Uint64() % 1_000_000
}

func TestOutcomesProbeMovingReplicas(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := movesSeed()
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (OSS_MOVES_SEED=%d to run it again)", seed, seed)
		}
	})
	names := []string{"a", "b", "c", "d", "e", "f", "g"}
	c := startTestNodes(t, seed, names...)
	p := &movesProbe{t: t, c: c, seed: seed, heaps: map[string]*Heap{}}
	for _, name := range names {
		p.heaps[name] = c.open(name, movesHeap)
	}
	want := c.placement(movesHeap, 3)
	waitCond(t, "the heap's voters", func() bool { return c.settled(movesHeap, want...) })
	p.run(8, 4)
	p.check()
}

// run starts clients, removes `removals` nodes with faults between, and
// stops the clients.
func (p *movesProbe) run(clients, removals int) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for k := range clients {
		wg.Go(func() { p.client(k, stop) })
	}
	rng := rand.New(rand.NewPCG(p.seed, 0x6d6f7665))
	for removed := 0; removed < removals; {
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		if p.nemesis(rng) {
			removed++
		}
	}
	time.Sleep(300 * time.Millisecond) // commits in flight over the last move
}

func (p *movesProbe) client(k int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(p.seed, uint64(k)+1))
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		h := p.pick(rng)
		op := probeOp{id: uuid.New(), hot: -1}
		if rng.IntN(2) == 0 {
			op.hot = rng.IntN(probeCounters)
		}
		ctx, cancel, how := probeContext(rng)
		fn := op.write(k, seq)
		var err error
		if rng.IntN(4) == 0 {
			op.how = how + ", Begin/Commit on " + h.node.Name()
			err = probeCommit(ctx, h, fn)
		} else {
			op.how = how + ", Update on " + h.node.Name()
			err = h.Update(ctx, fn)
		}
		cancel()
		op.class, op.err = classify(err), err
		if op.class == outcomeOK && rng.IntN(4) == 0 {
			p.freshSees(p.pick(rng), op)
		}
		p.mu.Lock()
		p.ops = append(p.ops, op)
		p.mu.Unlock()
	}
}

func (p *movesProbe) pick(rng *rand.Rand) *Heap {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := slices.Sorted(maps.Keys(p.heaps))
	return p.heaps[names[rng.IntN(len(names))]]
}

// nemesis injects one fault and reports whether it removed a node. A node
// removed is the heap's leader three times in four, else a voter.
func (p *movesProbe) nemesis(rng *rand.Rand) bool {
	c := p.c
	g, ok := c.group(movesHeap)
	if !ok || g.Joint || len(g.Voters) != 3 || slices.ContainsFunc(g.Voters, func(v string) bool { return c.nodes[v] == nil }) {
		// Between leaders or configurations, or a voter removed not yet
		// replaced: a removal now could take the group's quorum.
		return false
	}
	name := g.Leader
	if rng.IntN(4) == 0 {
		name = g.Voters[rng.IntN(len(g.Voters))]
	}
	kind := rng.IntN(len(p.faults))
	p.faults[kind]++
	p.t.Logf("fault %d on %s", kind, name)
	switch kind {
	case 0, 1:
		p.mu.Lock()
		delete(p.heaps, name) // no new commits on it; those in flight go on
		p.mu.Unlock()
		if kind == 0 {
			c.kill(name)
			return true
		}
		d := time.Duration(rng.IntN(300)) * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), d)
		err := c.nodes[name].Close(ctx)
		cancel()
		p.t.Logf("close %s within %v: %v", name, d, err)
		c.forget(name)
		return true
	case 2:
		var others []string
		for n := range c.nodes {
			if n != name {
				others = append(others, n)
			}
		}
		c.net.Partition([]string{name}, others)
		time.Sleep(time.Duration(50+rng.IntN(600)) * time.Millisecond)
		c.net.Heal()
	case 3:
		c.net.SetFaults(transporttest.Faults{Drop: 0.1, Duplicate: 0.1, MaxDelay: 5 * time.Millisecond, Reorder: true})
		time.Sleep(time.Duration(50+rng.IntN(500)) * time.Millisecond)
		c.net.SetFaults(transporttest.Faults{})
	}
	return false
}

// check waits for the heap's voters to settle on the remaining nodes, then
// reads every marker and counter on each remaining replica.
func (p *movesProbe) check() {
	t, c := p.t, p.c
	c.net.Heal()
	c.net.SetFaults(transporttest.Faults{})
	want := c.placement(movesHeap, 3)
	waitCond(t, "the heap's voters on the remaining nodes", func() bool { return c.settled(movesHeap, want...) })
	var n [3]int
	for _, op := range p.ops {
		n[op.class]++
	}
	t.Logf("seed %d: %d commits: %d committed, %d failed, %d unknown; faults (kill, close, cut off, lossy) %v; Fresh Views after a commit: %d saw it, %d failed",
		p.seed, len(p.ops), n[outcomeOK], n[outcomeFailed], n[outcomeUnknown], p.faults, p.fresh[0], p.fresh[1])
	p.tally()
	if n[outcomeOK] == 0 {
		t.Fatalf("seed %d: no commit succeeded: the probe tested nothing", p.seed)
	}
	probe := &outcomesProbe{hs: &harness{t: t}, seed: p.seed, ops: p.ops}
	for name, h := range p.heaps {
		present, counters := probe.read(name, h)
		var counted [probeCounters]int64
		for _, op := range p.ops {
			in := present[op.id]
			if in && op.hot >= 0 {
				counted[op.hot]++
			}
			switch {
			case op.class == outcomeOK && !in:
				t.Errorf("seed %d: %s: marker %v (%s) was reported committed and is missing", p.seed, name, op.id, op.how)
			case op.class == outcomeFailed && in:
				t.Errorf("seed %d: %s: marker %v (%s) was reported failed (%v) and is present", p.seed, name, op.id, op.how, op.err)
			}
		}
		if counted != counters {
			t.Errorf("seed %d: %s: counters %v, but the markers present counted %v", p.seed, name, counters, counted)
		}
	}
}

// tally logs how many commits each kind of definite failure ended, by
// the first 48 bytes of its error: those are the answers the probe holds
// to "not committed".
func (p *movesProbe) tally() {
	kinds := map[string]int{}
	for _, op := range p.ops {
		if op.class == outcomeFailed {
			msg := op.err.Error()
			kinds[msg[:min(len(msg), 48)]]++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		p.t.Logf("failed %6d: %s", kinds[k], k)
	}
}

// freshSees checks that a Fresh View begun after op's commit returned nil,
// on any node, sees op's marker (or fails: a View that could not learn
// its leader's commit index answers nothing).
func (p *movesProbe) freshSees(h *Heap, op probeOp) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var found bool
	err := h.View(ctx, func(tx *Tx) error {
		ok, err := tx.Exists(op.id)
		found = ok
		return err
	}, &ViewOptions{Fresh: true})
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.fresh[1]++
		return
	}
	p.fresh[0]++
	if !found {
		p.t.Errorf("seed %d: marker %v (%s) committed, then a Fresh View on %s did not see it", p.seed, op.id, op.how, h.node.Name())
	}
}
