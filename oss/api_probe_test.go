package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// An outsider's probes of the public API, as a program that imports it
// uses it.

// probeHeap starts a lone in-memory node with a heap "kv" and one object
// in it; the test closes the node.
func probeHeap(t *testing.T) (*oss.Node, *oss.Heap, oss.Ref[int64]) {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	var r oss.Ref[int64]
	err = h.Update(ctx, func(tx *oss.Tx) (err error) {
		r, err = oss.New(tx, int64(0))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, h, r
}

// A watch whose heap closed, with its node or dropped, refuses
// SetInterest with ErrClosed, and its Next returns ErrClosed after the
// events it held: it never hands out a resync to the state of a heap
// that is gone.
func TestProbeWatchOfClosedHeap(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, end := range []string{"node closed", "heap dropped"} {
		n, h, r := probeHeap(t)
		w, err := h.Watch(nil)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := w.Next(ctx); err != nil || ev.Kind != oss.EventSnapshot {
			t.Fatalf("%s: first event %v, %v; want a snapshot", end, ev, err)
		}
		if err := h.Update(ctx, func(tx *oss.Tx) error { return r.Put(tx, 1) }); err != nil {
			t.Fatal(err)
		}
		if end == "node closed" {
			err = n.Close(ctx)
		} else {
			err = n.DropHeap(ctx, "kv")
		}
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		if ev, err := w.Next(ctx); err != nil || ev.Kind != oss.EventChange {
			t.Fatalf("%s: the event held before: %v, %v; want the change", end, ev, err)
		}
		if err := w.SetInterest(nil, []string{"other"}); !errors.Is(err, oss.ErrClosed) {
			t.Errorf("%s: SetInterest returned %v, want ErrClosed", end, err)
		}
		if ev, err := w.Next(ctx); !errors.Is(err, oss.ErrClosed) {
			t.Errorf("%s: Next returned %v, %v; want ErrClosed", end, ev, err)
		}
		w.Close()
	}
}
