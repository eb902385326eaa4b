package oss_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
	"go.uber.org/goleak"
)

// manyHeaps is how many heaps the tests of many heaps create: 40, or
// 200 with OSS_LONG set.
func manyHeaps() int {
	if os.Getenv("OSS_LONG") != "" {
		return 200
	}
	return 40
}

func heapName(i int) string { return fmt.Sprintf("h%04d", i) }

// createHeaps creates n heaps through node n1, four at a time, and waits
// until every running node has a replica of each in a group of three
// voters with a leader in reach.
func createHeaps(t *testing.T, c *osstest.Cluster, n int) {
	t.Helper()
	const par = 4
	errs := make(chan error, par)
	for w := range par {
		go func() {
			for i := w; i < n; i += par {
				if _, err := c.Node("n1").CreateHeap(context.Background(), heapName(i), nil); err != nil {
					errs <- fmt.Errorf("create %s: %w", heapName(i), err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range par {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c.Wait("every heap placed on every node, with a leader", func() bool { return heapsPlaced(c, n) })
}

// heapsPlaced reports whether each of the n heaps has, on each running
// node, a replica of a group of three voters with a leader in reach.
func heapsPlaced(c *osstest.Cluster, n int) bool {
	for _, node := range c.Live() {
		for i := range n {
			s, _, ok := c.Node(node).ReplicaStats(heapName(i))
			if !ok || !s.LeaderInReach || len(s.Voters) != 3 {
				return false
			}
		}
	}
	return true
}

// A node of three killed and restarted on its data directory with many
// heaps: every heap has its three voters again and commits through the
// restarted node, and no goroutine of any node outlives the test.
func TestManyHeapsNodeRestartedEveryHeapCommits(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n := manyHeaps()
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Configure: func(_ string, cfg *oss.Config) {
		// Fewer wake-ups than osstest's 10 ms, for hundreds of replicas
		// under the race detector on two cores.
		cfg.TickInterval = 50 * time.Millisecond
		cfg.ReplaceAfter = 5 * time.Second
	}})
	createHeaps(t, c, n)
	id := uuid.New()
	commit := func(node string, i, v int) {
		t.Helper()
		h := c.Heap(node, heapName(i))
		if err := h.Update(context.Background(), func(tx *oss.Tx) error { return oss.Put(tx, id, v) }); err != nil {
			t.Fatalf("%s: commit to %s: %v", node, heapName(i), err)
		}
	}
	for i := range n {
		commit("n1", i, 1)
	}
	c.Kill("n3")
	c.Restart("n3")
	c.Wait("every heap placed again after n3's restart", func() bool { return heapsPlaced(c, n) })
	for i := range n {
		commit("n3", i, 2)
	}
	for i := range n {
		var got int
		err := c.Heap("n3", heapName(i)).View(context.Background(), func(tx *oss.Tx) (err error) {
			got, err = oss.Get[int](tx, id)
			return err
		}, nil)
		if err != nil || got != 2 {
			t.Fatalf("n3: %s holds %d (%v), want 2", heapName(i), got, err)
		}
	}
	if got := len(c.Node("n3").Heaps()); got != n {
		t.Fatalf("n3's catalog lists %d heaps, want %d", got, n)
	}
}

// An idle heap's replica costs little memory: before, every replica
// allocated a queue of 4096 raft messages by value (650 KiB) when it
// opened, so 500 heaps of three replicas took 1 GiB idle.
func TestManyHeapsIdleReplicasAreSmall(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n := manyHeaps()
	c := osstest.Start(t, 3, nil)
	before := heapInUse()
	createHeaps(t, c, n)
	after := heapInUse()
	per := (int64(after) - int64(before)) / int64(3*n)
	t.Logf("%d heaps of three replicas: %d KiB of Go heap and stack a replica", n, per>>10)
	// Measured at 117 KiB a replica (Go heap and stack); before, 750 KiB
	// of Go heap alone.
	if per > 256<<10 {
		t.Fatalf("a replica of an idle heap takes %d KiB of Go heap and stack, want at most 256 KiB", per>>10)
	}
}

// heapInUse is the Go heap and the goroutines' stacks in use.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// A lone node's idle replicas, which exchange no messages, cost little
// memory: their loop's batch of proposals (4096 pointers, which sat on
// the loop's stack) is made at the first proposal, and the queue of
// abandoned proposals is short. Measured at 107 KiB a replica, 195 KiB
// before.
func TestManyHeapsIdleLoneReplicasAreSmall(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n := 5 * manyHeaps()
	c := osstest.Start(t, 1, nil)
	before := heapInUse()
	for i := range n {
		if _, err := c.Node("n1").CreateHeap(context.Background(), heapName(i), nil); err != nil {
			t.Fatalf("create %s: %v", heapName(i), err)
		}
	}
	after := heapInUse()
	per := (int64(after) - int64(before)) / int64(n)
	t.Logf("%d heaps of one replica: %d KiB of Go heap and stack a replica", n, per>>10)
	if per > 150<<10 {
		t.Fatalf("a lone idle replica takes %d KiB of Go heap and stack, want at most 150 KiB", per>>10)
	}
}
