package oss

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"go.uber.org/goleak"
)

// placeHeaps are the heaps of the placement tests and their replication
// factors.
var placeHeaps = map[string]int{"r1": 1, "r3a": 3, "r3b": 3, "r3c": 3, "r3d": 3, "r5": 5}

// acked writes new objects into a heap until stop closes and keeps
// which committed and which ended unknown.
type acked struct {
	mu      sync.Mutex
	ok      []uuid.UUID
	failed  []uuid.UUID // definite failures: must never be found committed
	unknown int
}

func (a *acked) run(h *Heap, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		id := uuid.New()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := h.Update(ctx, func(tx *Tx) error { return Put(tx, id, acct{1}) })
		cancel()
		a.mu.Lock()
		switch {
		case err == nil:
			a.ok = append(a.ok, id)
		case errors.Is(err, ErrCommitUnknown), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrClosed):
			a.unknown++
		default:
			a.failed = append(a.failed, id)
		}
		a.mu.Unlock()
		if errors.Is(err, ErrClosed) {
			return
		}
	}
}

// placedAsAsked reports whether every heap has its placement's voters,
// no joint configuration, and no member that is not a live node.
func (c *testCluster) placedAsAsked() (bool, string) {
	return c.placedOver(placeHeaps, nil)
}

// placedOver reports whether every heap of heaps has the voters its
// placement over the nodes named in over (nil: all) gives it, as the
// leader with the highest term among those nodes sees it, no joint
// configuration, and no member that is not a live node.
func (c *testCluster) placedOver(heaps map[string]int, over []string) (bool, string) {
	live := map[uint64]bool{}
	for _, n := range c.nodes {
		live[n.id] = true
	}
	sub := &testCluster{nodes: c.nodes}
	if over != nil {
		sub.nodes = map[string]*Node{}
		for _, name := range over {
			sub.nodes[name] = c.nodes[name]
		}
	}
	for heap, r := range heaps {
		g, ok := sub.group(heap)
		if !ok {
			return false, heap + ": no leader"
		}
		if want := sub.placement(heap, r); g.Joint || !slices.Equal(g.Voters, slices.Sorted(slices.Values(want))) {
			return false, fmt.Sprintf("%s: voters %v (joint %v), want %v", heap, g.Voters, g.Joint, want)
		}
		for _, n := range sub.nodes {
			h := n.replicaOf(heap)
			if h == nil || !h.leaderIs(h.self) {
				continue
			}
			cs := h.conf.Load()
			for _, id := range slices.Concat(cs.Voters, cs.Learners) {
				if !live[id] {
					return false, fmt.Sprintf("%s: member %016x is no live node (learners %v)", heap, id, g.Learners)
				}
			}
		}
	}
	return true, ""
}

func (c *testCluster) waitPlaced(t *testing.T, what string) time.Duration {
	t.Helper()
	return c.waitPlacedOver(t, what, placeHeaps, nil)
}

func (c *testCluster) waitPlacedOver(t *testing.T, what string, heaps map[string]int, over []string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(await.Deadline)
	for {
		ok, why := c.placedOver(heaps, over)
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Seven nodes, heaps of 1, 3 and 5 replicas: voters and leaders spread,
// a killed node's replicas placed elsewhere, no commit lost, and the node
// back (a new member under its name) takes its places again, with no stale
// member left in any group.
func TestPlacementSevenNodesKillAndReturn(t *testing.T) {
	t.Parallel()
	names := []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	c := startTestNodes(t, 71, names...)
	hs := map[string]*Heap{}
	for heap, r := range placeHeaps {
		untilLeader(t, "create "+heap, func(ctx context.Context) error {
			h, err := c.nodes["n1"].CreateHeapIfNotExists(ctx, heap, &HeapOptions{Replicas: r})
			hs[heap] = h
			return err
		})
	}
	c.waitPlaced(t, "the first placement")
	voters, leaders := map[string]int{}, map[string]int{}
	for heap := range placeHeaps {
		g := c.waitGroup(t, heap) // between leaders, group names none
		leaders[g.Leader]++
		for _, v := range g.Voters {
			voters[v]++
		}
	}
	t.Logf("voters per node %v, leaders per node %v", voters, leaders)
	for name, k := range leaders {
		if k == len(placeHeaps) {
			t.Errorf("%s leads every heap", name)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	writes := map[string]*acked{}
	for heap, h := range hs {
		a := &acked{}
		writes[heap] = a
		wg.Go(func() { a.run(h, stop) })
	}
	// The node holding the most voters, not n1 (the writers' node).
	victim := ""
	for _, name := range names[1:] {
		if victim == "" || voters[name] > voters[victim] {
			victim = name
		}
	}
	c.kill(victim)
	t.Logf("killed %s (%d voters): placed again in %v", victim, voters[victim], c.waitPlaced(t, "the placement without "+victim))
	c.add(victim, true, nil)
	t.Logf("%s back: placed again in %v", victim, c.waitPlaced(t, "the placement with "+victim+" back"))
	close(stop)
	wg.Wait()

	checkAcked(t, "n1", hs, writes)
	for heap, a := range writes {
		t.Logf("%s: %d acknowledged, %d failed, %d unknown", heap, len(a.ok), len(a.failed), a.unknown)
	}
}

// checkAcked reads, Fresh, every acknowledged write of each heap on h.
func checkAcked(t *testing.T, where string, hs map[string]*Heap, writes map[string]*acked) {
	t.Helper()
	for heap, a := range writes {
		h := hs[heap]
		var err error
		untilLeader(t, "read "+heap, func(ctx context.Context) error {
			err = h.View(ctx, func(tx *Tx) error {
				for _, id := range a.ok {
					if _, err := Get[acct](tx, id); err != nil {
						return fmt.Errorf("acknowledged %v: %w", id, err)
					}
				}
				for _, id := range a.failed {
					if _, err := Get[acct](tx, id); !errors.Is(err, ErrNotFound) {
						return fmt.Errorf("failed for certain, yet %v is there (%v)", id, err)
					}
				}
				return nil
			}, &ViewOptions{Fresh: true})
			if errors.Is(err, ErrNotFound) || err != nil && strings.HasPrefix(err.Error(), "failed for certain") {
				return nil
			}
			return err
		})
		if err != nil {
			t.Errorf("%s on %s: %v", heap, where, err)
		}
	}
}

// Five nodes, every node holding every heap; two cut off at once, past
// ReplaceAfter: the majority places the heaps among its three, and once
// the partition heals every group takes its placement over five again,
// the two nodes' replicas (removed while cut off) back in every group,
// their handles committing, and no acknowledged write lost.
func TestPlacementFiveNodesTwoCutOffComeBack(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d", "e"}
	heaps := map[string]int{"r3a": 3, "r3b": 3, "r3c": 3, "r3d": 3, "r5": 5}
	c := startTestNodes(t, 52, names...)
	c.followPartitions()
	hs := map[string]map[string]*Heap{}
	for _, name := range names {
		hs[name] = map[string]*Heap{}
		for heap, r := range heaps {
			untilLeader(t, "open "+heap, func(ctx context.Context) error {
				h, err := c.nodes[name].CreateHeapIfNotExists(ctx, heap, &HeapOptions{Replicas: r})
				hs[name][heap] = h
				return err
			})
		}
	}
	c.waitPlacedOver(t, "the first placement", heaps, nil)
	voters := map[string]int{}
	for heap := range heaps {
		g := c.waitGroup(t, heap) // between leaders, group names none
		for _, v := range g.Voters {
			voters[v]++
		}
	}
	// The two holding the most voters, not a (the writers' node).
	rest := slices.Clone(names[1:])
	slices.SortStableFunc(rest, func(x, y string) int { return voters[y] - voters[x] })
	cut, majority := rest[:2], append([]string{"a"}, rest[2:]...)
	t.Logf("voters per node %v; cutting off %v", voters, cut)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	writes := map[string]*acked{}
	for heap, h := range hs["a"] {
		a := &acked{}
		writes[heap] = a
		wg.Go(func() { a.run(h, stop) })
	}
	// Only the heaps with a quorum of voters among the majority go on; the
	// others wait for the heal.
	quorate := map[string]int{}
	for heap, r := range heaps {
		// Between leaders group names no voters, which would count a
		// quorate heap as one without a quorum among the majority.
		g := c.waitGroup(t, heap)
		in := 0
		for _, v := range g.Voters {
			if slices.Contains(majority, v) {
				in++
			}
		}
		// A group of five shrinks to the three: no server is left to
		// take the two's places, and three voters survive a failure
		// more than five with two dead.
		if in > len(g.Voters)/2 {
			quorate[heap] = r
		}
	}
	c.net.Partition(cut, majority)
	t.Logf("%v placed among %v in %v", slices.Sorted(maps.Keys(quorate)), majority, c.waitPlacedOver(t, "the placement among the majority", quorate, majority))
	// Long enough past ReplaceAfter that learners cut off are removed too.
	waitCond(t, "the cut-off replicas removed", func() bool {
		for heap := range quorate {
			g, ok := (&testCluster{nodes: subset(c.nodes, majority)}).group(heap)
			if !ok {
				return false
			}
			for _, name := range cut {
				if slices.Contains(g.Learners, name) || slices.Contains(g.Voters, name) {
					return false
				}
			}
		}
		return true
	})
	c.net.Heal()
	t.Logf("placed over all five again in %v", c.waitPlacedOver(t, "the placement over all five", heaps, nil))
	waitCond(t, "every replica back in its group", func() bool {
		for heap := range heaps {
			g, ok := c.group(heap)
			if !ok || len(g.Voters)+len(g.Learners) != len(names) {
				return false
			}
		}
		return true
	})
	close(stop)
	wg.Wait()
	for _, name := range cut {
		for heap, h := range hs[name] {
			untilCommitted(t, name+" writes "+heap, h, func(tx *Tx) error { return Put(tx, uuid.New(), acct{1}) })
		}
		checkAcked(t, name, hs[name], writes)
	}
	for heap, a := range writes {
		t.Logf("%s: %d acknowledged, %d failed, %d unknown", heap, len(a.ok), len(a.failed), a.unknown)
	}
}

func subset(nodes map[string]*Node, names []string) map[string]*Node {
	out := map[string]*Node{}
	for _, name := range names {
		out[name] = nodes[name]
	}
	return out
}

// Seven durable nodes restarted one by one (a graceful stop, then a start
// on the same directory) while n1 writes into every heap: each restart
// ends with every heap at its placement and no stale member, and no
// acknowledged write is lost, no write that failed for certain is found.
func TestPlacementRollingRestartSevenNodes(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	c := startTestNodes(t, 77)
	durable := func(name string) func(*Config) {
		return func(cfg *Config) { cfg.DataDir = "/data/" + name }
	}
	for i, name := range names {
		c.fss[name] = persist.NewMemFS()
		c.add(name, i > 0, durable(name))
	}
	hs := map[string]*Heap{}
	for heap, r := range placeHeaps {
		untilLeader(t, "create "+heap, func(ctx context.Context) error {
			h, err := c.nodes["n1"].CreateHeapIfNotExists(ctx, heap, &HeapOptions{Replicas: r})
			hs[heap] = h
			return err
		})
	}
	c.waitPlaced(t, "the first placement")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writes := map[string]*acked{}
	for heap, h := range hs {
		a := &acked{}
		writes[heap] = a
		wg.Go(func() { a.run(h, stop) })
	}
	restart := func(name string) {
		c.leave(name)
		c.add(name, name != "n1", durable(name))
		t.Logf("%s restarted: placed again in %v", name, c.waitPlaced(t, "the placement after "+name+" restarted"))
	}
	for _, name := range names[1:] {
		restart(name)
	}
	close(stop)
	wg.Wait()
	restart("n1")
	for heap := range placeHeaps {
		// A replica removed while n1 was away (a learner of a node that
		// left) is given up until an application opens it: opened.
		hs[heap] = c.nodes["n1"].replicaOf(heap)
		if hs[heap] == nil || !hs[heap].inConf.Load() {
			untilLeader(t, "open "+heap, func(ctx context.Context) error {
				h, err := c.nodes["n1"].Heap(ctx, heap)
				hs[heap] = h
				return err
			})
		}
	}
	checkAcked(t, "n1", hs, writes)
	for heap, a := range writes {
		t.Logf("%s: %d acknowledged, %d failed, %d unknown", heap, len(a.ok), len(a.failed), a.unknown)
	}
}
