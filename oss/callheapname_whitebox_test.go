package oss

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// A call's heap name is refused before anything keeps or logs it when it
// could name no heap. A client certificate granted nothing sent joins
// that claimed another cluster, each naming a heap of 1 MiB: the node
// kept each name whole in its log of refused joins (a minute) and wrote
// each, whole, in a WARN line at once (a new name is a new key), so a
// client sending its 1,000 calls a second, each up to a frame (8 MiB),
// filled the node's memory and its log's disk. Nor is a name of a heap
// the node does not hold kept apart: the caller chooses it, and 200
// bytes of a new name a call still made an entry and a WARN line.
func TestCallsHeapNameIsBoundedBeforeItIsKept(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a")
	m := c.startRole("mallory", pki.RoleClient)
	a := c.nodes["a"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Four calls of each op with names of 1 MiB (each a new name: the
	// log of refused joins would have four entries), sixteen of 200 bytes.
	const big, calls, size = 4, 16, 1 << 20
	for i := range big {
		for _, op := range []string{opJoin, opDecline} {
			heap := fmt.Sprintf("%d-%s", i, strings.Repeat("x", size))
			req, _ := codec.Marshal(callRequest{Op: op, Heap: heap, ID: m.id, Cluster: a.ClusterID() + 1})
			if _, err := m.tr.Call(ctx, "a", req); err == nil {
				t.Errorf("a answered a %s of a heap of %d bytes without an error", op, len(heap))
			}
		}
	}
	// Names that could be heaps, none of them one a holds: each was an
	// entry, and a WARN line at once.
	for i := range calls {
		heap := fmt.Sprintf("%d-%s", i, strings.Repeat("y", 200))
		req, _ := codec.Marshal(callRequest{Op: opJoin, Heap: heap, ID: m.id, Cluster: a.ClusterID() + 1})
		if _, err := m.tr.Call(ctx, "a", req); err != nil {
			t.Fatal(err)
		}
	}
	a.joinRefusals.mu.Lock()
	kept, entries := 0, len(a.joinRefusals.last)
	for k := range a.joinRefusals.last {
		kept += len(k.heap)
	}
	a.joinRefusals.mu.Unlock()
	if kept > 0 || entries > 1 {
		t.Fatalf("a keeps %d entries, %d bytes of heap names, from the refused calls of one peer, none of a heap it holds", entries, kept)
	}
}
