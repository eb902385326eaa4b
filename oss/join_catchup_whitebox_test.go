package oss

import (
	"context"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A replica its group placed in the configuration before the join began
// still catches up before the join returns: Start returns with a catalog
// replica that holds what the cluster committed before, not with whatever
// the replica had applied when the leader added it. Here the joining node
// is cut off once it is in the configuration, a heap is created without
// it, and the cut heals a little later: Start must wait for the heal and
// return with the heap's entry in its catalog.
func TestJoinAlreadyInTheConfigurationCatchesUp(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 5, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	healed := make(chan struct{})
	n, err := Start(ctx, &Config{Name: "d", Transport: testNet{c.net, c}, Join: []string{"a"}, JoinRetry: true, Logger: testLogger(),
		catalogStep: func(step string, h *Heap) {
			if step != "join" {
				return
			}
			if !pollUntil(ctx, time.Minute, h.inConf.Load) {
				t.Error("the catalog's leader did not place the replica in its configuration")
			}
			c.net.Partition([]string{"d"}, []string{"a", "b", "c"})
			if _, err := c.nodes["a"].CreateHeap(ctx, "late", nil); err != nil {
				t.Errorf("create a heap while the joining node is cut off: %v", err)
			}
			go func() {
				defer close(healed)
				time.Sleep(500 * time.Millisecond)
				c.net.Heal()
			}()
		}})
	await.Recv(t, healed, "the partition to heal")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer n.Close(context.Background())
	if _, ok := n.catalogEntry("late"); !ok {
		t.Fatal("Start returned with a catalog replica that had not caught up: the heap created before is missing")
	}
}
