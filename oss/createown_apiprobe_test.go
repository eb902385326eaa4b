package oss

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// CreateHeap whose first try reached the catalog's leader and committed,
// but whose node heard nothing back (an unknown outcome), tries again
// once it hears the cluster, finds the entry that try proposed, and
// returns the heap it created: not ErrHeapExists, and not the unknown
// outcome it returned before it tried again.
func TestAPIProbeCreateHeapFindsItsOwnUnknownTry(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 43)
	deaf := map[string]*atomic.Bool{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return deafHandler{Handler: hd, deaf: deaf[name]}
	}
	names := []string{"a", "b", "c"}
	for i, name := range names {
		deaf[name] = new(atomic.Bool)
		c.add(name, i > 0, nil)
	}
	var lead, x string
	waitCond(t, "the catalog's group of three, led", func() bool {
		st := c.nodes["a"].catalog.Load().Stats()
		lead = st.Leader
		return lead != "" && len(st.Voters) == 3
	})
	for _, name := range names {
		if name != lead {
			x = name
		}
	}
	seen := onFirstUnknown(c.nodes[x], func() {})
	deaf[x].Store(true)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h, err := c.nodes[x].CreateHeap(ctx, "made", nil)
		if err == nil && h == nil {
			err = errDeaf
		}
		done <- err
	}()
	waitCond(t, "the entry on the catalog's leader and a try of unknown outcome", func() bool {
		_, ok := c.nodes[lead].catalogEntry("made")
		return ok && seen()
	})
	deaf[x].Store(false)
	if err := await.Recv(t, done, "CreateHeap to return"); err != nil {
		t.Fatalf("CreateHeap whose try of unknown outcome created the heap: %v, want the heap", err)
	}
}
