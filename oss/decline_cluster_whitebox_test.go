package oss

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// TestDeclineOfNoClusterRefused: a request to remove a learner (or its
// withdrawal) is served only from a caller of this node's cluster
// exactly: one of no cluster yet, which a join may be, is refused too.
func TestDeclineOfNoClusterRefused(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	a, b := c.nodes["a"], c.nodes["b"]
	waitCond(t, "a cluster ID", func() bool { return a.ClusterID() != 0 })
	for _, cluster := range []uint64{0, a.ClusterID() + 1} {
		for _, withdraw := range []bool{false, true} {
			req, err := codec.Marshal(callRequest{Op: opDecline, Heap: catalogName, ID: b.id, Cluster: cluster, Withdraw: withdraw})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := a.handleCall(ctx, "b", req)
			var resp callResponse
			if err == nil {
				err = codec.Unmarshal(raw, &resp)
			}
			if err == nil && resp.Refused == "" {
				t.Errorf("decline (withdraw %v) of cluster %016x to a of %016x taken: %+v", withdraw, cluster, a.ClusterID(), resp)
			} else if err != nil && !errors.Is(err, ErrOtherCluster) {
				t.Errorf("decline (withdraw %v) of cluster %016x: %v; want ErrOtherCluster", withdraw, cluster, err)
			}
		}
	}
}
