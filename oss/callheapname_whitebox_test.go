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
// filled the node's memory and its log's disk.
func TestCallsHeapNameIsBoundedBeforeItIsKept(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a")
	m := c.startRole("mallory", pki.RoleClient)
	a := c.nodes["a"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const calls, size = 16, 1 << 20
	for i := range calls {
		for _, op := range []string{opJoin, opDecline} {
			heap := fmt.Sprintf("%d-%s", i, strings.Repeat("x", size))
			req, _ := codec.Marshal(callRequest{Op: op, Heap: heap, ID: m.id, Cluster: a.ClusterID() + 1})
			if _, err := m.tr.Call(ctx, "a", req); err == nil {
				t.Errorf("a answered a %s of a heap of %d bytes without an error", op, len(heap))
			}
		}
	}
	a.joinRefusals.mu.Lock()
	kept := 0
	for k := range a.joinRefusals.last {
		kept += len(k.heap)
	}
	a.joinRefusals.mu.Unlock()
	if kept > calls*2*255 {
		t.Fatalf("a keeps %d bytes of heap names from %d refused calls", kept, calls*2)
	}
}
