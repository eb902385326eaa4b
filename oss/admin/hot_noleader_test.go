package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// conflictOnce makes two transactions on h conflict over one object.
func conflictOnce(t *testing.T, ctx context.Context, h *oss.Heap) {
	t.Helper()
	var id oss.Ref[int]
	if err := h.Update(ctx, func(tx *oss.Tx) error {
		var err error
		id, err = oss.New(tx, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var txs []*oss.Tx
	for range 2 {
		tx, err := h.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := oss.Get[int](tx, id.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := oss.Put(tx, id.ID, v+1); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	if err := txs[0].Commit(); err != nil {
		t.Fatal(err)
	}
	if err := txs[1].Commit(); !errors.As(err, new(*oss.ConflictError)) {
		t.Fatalf("the second commit: %v; want a conflict", err)
	}
}

// TestHotOfAHeapWithoutLeader: GET /v1/heaps/HEAP/hot ("ossd hot") of a
// heap whose group has no leader, on a node whose replica no open has
// caught up, answers with the replica's list and says it has no leader.
// It opened the heap, which waited for the group until the request's
// 10 s ran out, and answered 503.
func TestHotOfAHeapWithoutLeader(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := c.Node("n2").CreateHeap(ctx, "stuck", &oss.HeapOptions{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	conflictOnce(t, ctx, h)
	n1 := c.Node("n1")
	c.Wait("n1's replica of stuck to count the conflict", func() bool {
		_, hot, ok := n1.ReplicaStats("stuck")
		return ok && len(hot) == 1
	})
	c.Kill("n2")
	c.Kill("n3")
	// Without a leader as the answer reads it: the replica knows none
	// (it campaigned). The status names none once none was heard within
	// two election timeouts, while the replica may still know its dead
	// leader, in reach as far as it has yet seen (the answer then said
	// nothing was stale, once at load 50 to 80).
	c.Wait("stuck without a leader on n1", func() bool {
		hs, ok := localHeap(n1, "stuck")
		st, _, local := n1.ReplicaStats("stuck")
		return ok && hs.Leader == "" && local && st.Leader == ""
	})

	p := newPKI(t)
	srv := serve(t, n1, p.serverOptions(t))
	got, err := p.client(t, srv, "admin").Hot(ctx, "stuck")
	if err != nil {
		t.Fatalf("hot: %v", err)
	}
	if got.Heap != "stuck" || len(got.Objects) != 1 || got.Objects[0].Conflicts != 1 || got.Stale != "no leader" {
		t.Errorf("hot: %+v; want the one conflict, and no leader", got)
	}
}
