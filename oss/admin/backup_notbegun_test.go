package admin_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// "ossd heaps backup" of a heap whose one voter was down said that each
// node of --http "is closing" (oss.ErrClosed): the backup's bound on its
// start cancelled its context while the node waited to join the heap's
// group, and a cancelled context was answered as the server closing. It
// is now answered as any request that ran out of time (503, no quorum),
// saying the backup had not begun.
func TestBackupOfAHeapWithoutQuorumIsNoQuorumNotClosing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cleanups that close the nodes and server
	ctx := context.Background()
	nodes := startCluster(t, "b1", "b2", "b3")
	h, err := nodes[0].CreateHeap(ctx, "solo", &oss.HeapOptions{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	voters := h.Stats().Voters
	if len(voters) != 1 {
		t.Fatalf("heap solo's voters: %v; want one", voters)
	}
	// The voter goes, at once; the backup is asked of a node that never
	// opened the heap.
	var serving *oss.Node
	for _, n := range nodes {
		switch {
		case n.Name() == voters[0]:
			gone, cancel := context.WithCancel(ctx)
			cancel()
			n.Close(gone)
		case serving == nil && n != nodes[0]:
			serving = n
		}
	}
	srv := serve(t, serving, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_, err = c.Backup(ctx, "solo", io.Discard, false)
	if !errors.Is(err, oss.ErrNoQuorum) || errors.Is(err, oss.ErrClosed) || strings.Contains(err.Error(), "closing") || !strings.Contains(err.Error(), "had not begun") {
		t.Errorf("backup of a heap whose one voter is down: %v; want no quorum, the backup not begun, no node closing", err)
	}
}
