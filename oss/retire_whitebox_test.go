package oss

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// heapGoroutines counts the goroutines in a method of h: its loop, its
// checkpointer, a rejoin or a request of its.
func heapGoroutines(h *Heap) int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	self := "oss.(*Heap)."       // a frame of a Heap's method...
	arg := fmt.Sprintf("(%p", h) // ...on h
	k := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			if strings.Contains(line, self) && strings.Contains(line, arg) {
				k++
				break
			}
		}
	}
	return k
}

// bankSpaces counts the spaces of heap bank in n's striped store.
func bankSpaces(n *Node) int {
	k := 0
	for name := range n.disk.store.Manifest().Spaces {
		if heap, _, _, ok := parseSpace(name); ok && heap == "bank" {
			k++
		}
	}
	return k
}

// hearRetired has n's retirements of a replica sent on the returned
// channel.
func hearRetired(n *Node) <-chan *Heap {
	ch := make(chan *Heap, 4)
	n.mu.Lock()
	n.retiredHook = func(h *Heap) { ch <- h }
	n.mu.Unlock()
	return ch
}

// putObjects writes k objects to bank through h and waits until the
// replica r has applied them.
func putObjects(t *testing.T, h, r *Heap, k int) {
	t.Helper()
	// r, a learner no application uses, asks to be removed after
	// declineTicks with a leader in reach: under the race detector at
	// load 10 the puts took longer (CI, 2026-12-07), r was retired before
	// it applied them, and the wait below ran out. It counts as used
	// while they go in, and is unused again for the caller's decline.
	was := r.used.Load()
	r.used.Store(true)
	defer r.used.Store(was)
	for i := range k {
		id, v := relogPut(i)
		if err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			t.Fatal(err)
		}
	}
	want := h.Stats().Applied
	waitCond(t, "the learner to apply the objects", func() bool { return r.Stats().Applied >= want })
}

// TestRemovedReplicaIsRetired: a learner no application uses, removed at
// its request, is retired on its node: its loop stops, it leaves the
// node's table and its heap list, its space leaves the striped store,
// and a restart recovers nothing of it. An application's open of the
// heap on the node then joins the group as a learner again and reads
// the bank. Before, the replica stayed open, with its state and its
// space, until the node closed.
func TestRemovedReplicaIsRetired(t *testing.T) {
	t.Parallel()
	c, placed, spare := bankWithUnusedLearner(t, 53)
	ns, hs := c.nodes[spare], c.heaps[spare]
	retired := hearRetired(ns)
	putObjects(t, c.heaps[placed[0]], hs, 5)
	if k := heapGoroutines(hs); k == 0 {
		t.Fatal("no goroutine found in a method of the running replica: heapGoroutines misses them")
	}
	t.Logf("%s's spaces of bank before its removal: %d", spare, bankSpaces(ns))

	ns.declineUnused(hs, placed[0])
	waitCond(t, spare+" removed and given up", func() bool {
		g, ok := c.group("bank")
		return ok && !slices.Contains(g.Learners, spare) && hs.givenUp()
	})
	if got := await.Recv(t, retired, spare+"'s given-up replica to be retired"); got != hs {
		t.Fatalf("retired %p, not the given-up replica %p", got, hs)
	}
	select {
	case <-hs.done:
	default:
		t.Fatal("the retired replica's loop has not exited")
	}
	if !hs.isClosed() {
		t.Fatal("the retired replica's handle is not closed")
	}
	await.Until(t, "the retired replica's goroutines gone", func() bool { return heapGoroutines(hs) == 0 })
	if ns.replicaOf("bank") != nil {
		t.Fatal("the retired replica is still in the node's table")
	}
	for _, hst := range ns.Heaps() {
		if _, ok := hst.ReplicaApplied[spare]; ok && hst.Name == "bank" {
			t.Fatalf("the node's heap list still shows its replica of bank: %+v", hst)
		}
	}
	if k := bankSpaces(ns); k != 0 {
		t.Fatalf("%d spaces of bank left in %s's store after the retirement", k, spare)
	}

	c.kill(spare)
	ns = c.add(spare, true, func(cfg *Config) { cfg.DataDir = "/data/" + spare })
	if ns.replicaOf("bank") != nil {
		t.Fatal("the restart recovered the retired replica")
	}
	h := c.open(spare, "bank")
	waitCond(t, spare+" a learner again once opened", func() bool {
		g, ok := c.group("bank")
		return ok && slices.Contains(g.Learners, spare)
	})
	id, _ := relogPut(4)
	err := h.View(context.Background(), func(tx *Tx) error {
		ok, err := tx.Exists(id)
		if err == nil && !ok {
			t.Error("the replica opened after the retirement lacks an object written before it")
		}
		return err
	}, &ViewOptions{Fresh: true})
	if err != nil {
		t.Fatalf("a fresh read on the replica opened after the retirement: %v", err)
	}
}

// TestReplicaAddedBackBeforeItsRetirementIsKept: a given-up replica that
// its group adds back before it is retired (here while an open of the heap
// under way holds the retirement, as Node.opening does) keeps its state
// and its handle: it applies its return and is not retired. Removed again,
// it is retired then.
func TestReplicaAddedBackBeforeItsRetirementIsKept(t *testing.T) {
	t.Parallel()
	c, placed, spare := bankWithUnusedLearner(t, 59)
	ns, hs := c.nodes[spare], c.heaps[spare]
	retired := hearRetired(ns)
	refused := hearRetireRefused(ns, hs)
	putObjects(t, c.heaps[placed[0]], hs, 5)
	hold := make(chan struct{})
	ns.mu.Lock()
	ns.opening["bank"] = hold
	ns.mu.Unlock()

	ns.declineUnused(hs, placed[0])
	waitCond(t, spare+" removed and given up", func() bool {
		g, ok := c.group("bank")
		return ok && !slices.Contains(g.Learners, spare) && hs.givenUp()
	})
	applied := hs.Stats().Applied
	// Past retireTicks: the retirement, due, was tried and held.
	if why := await.Recv(t, refused, spare+"'s retirement, due, to be held"); why != "held" {
		t.Fatalf("the retirement was refused (%s), not held", why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	ns.askJoin(ctx, hs, []string{placed[0]}, hs.current, nil) // as placement would add it back
	waitCond(t, spare+" back as a learner", func() bool {
		g, ok := c.group("bank")
		return ok && slices.Contains(g.Learners, spare) && hs.inConf.Load()
	})
	ns.mu.Lock()
	delete(ns.opening, "bank")
	ns.mu.Unlock()
	close(hold)
	for range retireTicks + 20 {
		time.Sleep(10 * time.Millisecond)
		if hs.isClosed() || ns.replicaOf("bank") != hs {
			t.Fatalf("%s's replica, added back, was retired", spare)
		}
	}
	if got := hs.Stats().Applied; got < applied || hs.Stats().Objects == 0 {
		t.Fatalf("the replica added back applied %d (was %d), %d objects: its state was not kept", got, applied, hs.Stats().Objects)
	}

	ns.declineUnused(hs, placed[0])
	if got := await.Recv(t, retired, spare+"'s replica, removed again, to be retired"); got != hs {
		t.Fatalf("retired %p, not the replica %p", got, hs)
	}
}
