package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A whole cluster stopped gracefully, one node after the other, as an
// operator or a host's shutdown stops it, starts again without any one
// of its nodes, as a cluster killed at once does. Each leave used to
// give up its votes where no server could take them, so a group of three
// kept one voter, the last node to leave: started without it, the
// catalog and the heap had no leader, ever, and --replace-after could
// not help (no quorum to commit a replacement).
func TestWholeClusterLeftInTurnStartsWithoutOne(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Patience: 2 * time.Minute})
	g := openAll(c, "bank", 3)
	ids := seedAccounts(t, c.Heap(g.Leader, "bank"))
	order := []string{"n1", "n2", "n3"}
	for _, name := range order {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := c.Node(name).Close(ctx)
		cancel()
		if err != nil {
			t.Errorf("close %s: %v", name, err)
		}
		c.Kill(name) // closed already: osstest forgets it
	}
	// n3, the last to leave, stays down.
	for _, name := range order[:2] {
		c.Restart(name)
	}
	for _, name := range order[:2] {
		if err := commit(c.Heap(name, "bank"), transferTx(ids[0], ids[1], 1)); err != nil {
			t.Fatalf("a transfer through %s with n3 down: %v", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		_, err := c.Node("n1").CreateHeap(ctx, "made", nil)
		if err == nil || errors.Is(err, oss.ErrHeapExists) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the catalog creates no heap with n3 down: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range order[:2] {
		h := c.Heap(name, "bank")
		c.Wait(name+" to hold both transfers", func() bool { return balance(t, h, ids[1]) == 102 })
		if got := bankTotal(t, h, ids); got != 800 {
			t.Fatalf("%s holds %d, want 800", name, got)
		}
	}
}
