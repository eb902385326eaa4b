package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Probes of a node cut off from its peers (they never answer): every
// blocking call returns once its ctx ends, with ctx's error or the
// documented one, and Close returns, the node closed, every goroutine
// stopped.

// cutOffCalls are the blocking calls the probe makes on the node cut off.
var cutOffCalls = []struct {
	name string
	call func(ctx context.Context, n *oss.Node, h *oss.Heap) error
}{
	{"Update", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		return h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, idOne, counter{N: 9}) })
	}},
	{"Update reading", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		return h.Update(ctx, func(tx *oss.Tx) error {
			if _, err := oss.Get[counter](tx, idOne); err != nil {
				return err
			}
			return errors.New("mine")
		})
	}},
	{"Fresh View", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		return h.View(ctx, func(tx *oss.Tx) error { return nil }, &oss.ViewOptions{Fresh: true})
	}},
	{"Begin Fresh", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		tx, err := h.Begin(ctx, &oss.TxOptions{Fresh: true})
		if err == nil {
			tx.Rollback()
		}
		return err
	}},
	{"Commit", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		tx, err := h.Begin(ctx, nil)
		if err != nil {
			return err
		}
		oss.Put(tx, idOne, counter{N: 8})
		return tx.Commit()
	}},
	{"Heap", func(ctx context.Context, n *oss.Node, h *oss.Heap) error { _, err := n.Heap(ctx, "third"); return err }},
	{"CreateHeap", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		_, err := n.CreateHeap(ctx, "new", nil)
		return err
	}},
	{"CreateHeapIfNotExists", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		_, err := n.CreateHeapIfNotExists(ctx, "new2", nil)
		return err
	}},
	{"DropHeap", func(ctx context.Context, n *oss.Node, h *oss.Heap) error { return n.DropHeap(ctx, "other") }},
	{"Grant", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		return n.Grant(ctx, oss.Grant{Who: "x", Heap: "test", Perm: oss.PermRead})
	}},
	{"RevokeGrant", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		return n.RevokeGrant(ctx, oss.Grant{Who: "x", Heap: "test", Perm: oss.PermRead})
	}},
	{"SetHeapReplicas", func(ctx context.Context, n *oss.Node, h *oss.Heap) error { return n.SetHeapReplicas(ctx, "test", 1) }},
	{"Status", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		if s := n.Status(ctx); len(s.Unreachable) == 0 {
			return errors.New("no member unreachable")
		}
		return ctx.Err()
	}},
	{"Watch.Next", func(ctx context.Context, n *oss.Node, h *oss.Heap) error {
		w, err := h.Watch(&oss.WatchOptions{From: h.Stats().Applied})
		if err != nil {
			return err
		}
		defer w.Close()
		_, err = w.Next(ctx)
		return err
	}},
}

var idOne = [16]byte{1}

func others(than string) []string {
	var o []string
	for _, name := range []string{"n1", "n2", "n3"} {
		if name != than {
			o = append(o, name)
		}
	}
	return o
}

func TestCutOffCallsEndWithTheirContext(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, graceful := range []bool{true, false} {
		c := osstest.Start(t, 3, &osstest.Options{Durable: true})
		for _, name := range []string{"n1", "n2", "n3"} {
			c.Heap(name, "test")
			c.Heap(name, "other")
		}
		leader := c.WaitLeader("test")
		n, h := c.Node(leader), c.Heap(leader, "test")
		create(t, h, counter{})
		c.Heap(others(leader)[0], "third")
		c.Partition(others(leader)) // the leader alone: its peers never answer
		for _, call := range cutOffCalls {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			var err error
			within(t, call.name+" on a node cut off, its ctx ending", func() { err = call.call(ctx, n, h) })
			cancel()
			ok := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, oss.ErrNoQuorum) ||
				(call.name == "Status" && err == nil)
			t.Logf("%s: %v", call.name, err)
			if !ok {
				t.Errorf("%s on a node cut off, ctx ended: %v; want ctx's error or ErrNoQuorum", call.name, err)
			}
		}
		ctx := context.Background()
		if !graceful {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			ctx = cctx
		}
		var err error
		within(t, "Close of a node cut off", func() { err = n.Close(ctx) })
		t.Logf("Close (graceful %v) of a node cut off: %v", graceful, err)
		within(t, "second Close", func() { err = n.Close(context.Background()) })
		if err != nil {
			t.Errorf("second Close: %v", err)
		}
		c.Heal()
		c.Close()
	}
}
