package oss

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// The outcome storm on the catalog: the storm's nemesis (leadership
// moves, restarts, kills, a heap closed under its commits, cut-off
// nodes) runs while callers on every node make catalog writes, each a
// grant to a name of its own (Node.Grant: one catalog Update), under the
// storm's drawn contexts. The catalog's writes go through the catalog
// heap's loop, as any heap's, but from the node's own calls (CreateHeap,
// DropHeap, Grant, SetHeapReplicas), whose errors those calls word their
// own way: a grant that returned nil must be in every node's catalog at
// the end, one that failed other than with ErrCommitUnknown in none.
// The storm's heap clients run beside them, so that the catalog's
// commits share the nodes' logs with the heap's.

// stormGrantee is catalog client p's seq-th grantee: a name of its own.
func stormGrantee(p, seq int) string { return fmt.Sprintf("grantee-%d-%d", p, seq) }

// catalogClient grants until stop, each grant under a drawn context.
func (s *outcomeStorm) catalogClient(p int, stop <-chan struct{}, out chan<- stormOp) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(p)+0x636174616c6f67))
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		name := s.c.names[rng.IntN(len(s.c.names))]
		s.c.mu.Lock()
		n := s.c.nodes[name]
		s.c.mu.Unlock()
		if n == nil {
			time.Sleep(time.Millisecond) // down: not a busy loop
			continue
		}
		ctx, cancel, _, how := s.stormContext(rng)
		op := stormOp{token: stormToken(p, seq), node: name, how: how + ", Grant " + stormGrantee(p, seq)}
		op.err = n.Grant(ctx, Grant{Who: stormGrantee(p, seq), Heap: "storm", Perm: PermRead})
		cancel()
		if errors.Is(op.err, ErrClosed) {
			time.Sleep(time.Millisecond)
		}
		out <- op
	}
}

// armCatalog has every live node's catalog replica end armed contexts
// at its log writes, as arm has the heap's: a grant ended so is on its
// way to the catalog's log, or in it undecided.
func (s *outcomeStorm) armCatalog() {
	f := func([]engine.Write) {
		select {
		case cancel := <-s.armed:
			cancel()
		default:
		}
	}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	for _, n := range s.c.nodes {
		if h := n.catalog.Load(); h != nil {
			h.wroteHook.Store(&f)
		}
	}
}

// grantees returns the grantees of node name's catalog, once its replica
// has applied the catalog's commit index.
func (s *outcomeStorm) grantees(name string) map[string]bool {
	s.c.mu.Lock()
	n := s.c.nodes[name]
	s.c.mu.Unlock()
	deadline := time.Now().Add(await.Deadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := n.catalog.Load().readIndex(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			s.c.t.Fatalf("seed %d: no read index of the catalog on %s after healing: %v", s.seed, name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := map[string]bool{}
	for _, g := range n.Grants() {
		if g.Heap == "storm" {
			got[g.Who] = true
		}
	}
	return got
}

// checkGrants holds every node's grants against what the grants'
// callers were told.
func (s *outcomeStorm) checkGrants(ops []stormOp) map[string]int {
	tally := map[string]int{}
	for i, name := range s.c.names {
		got := s.grantees(name)
		var lies []string
		for _, op := range ops {
			n := 0
			if got[granteeOf(op)] {
				n = 1
			}
			t := map[string]int{}
			lies = append(lies, stormLie(op, n, t)...)
			if i == 0 {
				for k, v := range t {
					tally["grant "+k] += v
				}
			}
		}
		for j, l := range lies {
			if j == 20 {
				s.c.t.Errorf("seed %d, on %s: %d more", s.seed, name, len(lies)-j)
				break
			}
			s.c.t.Errorf("seed %d, on %s: %s", s.seed, name, l)
		}
	}
	return tally
}

// granteeOf is the grantee an op of catalogClient named, the last word
// of its how.
func granteeOf(op stormOp) string {
	for i := len(op.how) - 1; i >= 0; i-- {
		if op.how[i] == ' ' {
			return op.how[i+1:]
		}
	}
	return op.how
}

// TestOutcomeStormCatalog checks the outcome promise of the node's
// catalog writes (Grant) under the storm's cancellations and faults on
// real QUIC nodes, with the storm's heap clients beside them. One round
// of a few seconds; OSS_STORM_SEED replays a seed's choices.
func TestOutcomeStormCatalog(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := stormSeed()
	t.Logf("seed %d (OSS_STORM_SEED=%d to replay its choices)", seed, seed)
	c := newPromiseCluster(t, seed, 5*time.Millisecond, time.Minute, 3)
	s := &outcomeStorm{c: c, seed: seed, armed: make(chan context.CancelFunc, 64), faults: map[string]int{}}
	stop := make(chan struct{})
	heapOut, catOut := make(chan stormOp, 1024), make(chan stormOp, 1024)
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() { s.client(p, stop, heapOut) })
	}
	for p := range 6 {
		wg.Go(func() { s.catalogClient(p, stop, catOut) })
	}
	var heapOps, catOps []stormOp
	var collect sync.WaitGroup
	collect.Go(func() {
		for op := range heapOut {
			heapOps = append(heapOps, op)
		}
	})
	collect.Go(func() {
		for op := range catOut {
			catOps = append(catOps, op)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0x6e656d))
	for start := time.Now(); time.Since(start) < 4*time.Second; {
		s.armCatalog()
		s.nemesis(rng)
	}
	close(stop)
	await.Wait(t, &wg, "the storm's clients to end")
	close(heapOut)
	close(catOut)
	await.Wait(t, &collect, "the collectors of outcomes to end")
	c.heal()
	c.up()
	heapOps = append(heapOps, s.settle(4)...)
	tally := s.check(heapOps)
	for k, v := range s.checkGrants(catOps) {
		tally[k] = v
	}
	for k, v := range s.faults {
		tally[k] = v
	}
	t.Logf("seed %d: %v", seed, tally)
}
