package oss_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// A watch resumed with a version of a heap that has since been dropped and
// created again under its name starts with a resync of the new heap: the
// old version is an index of another log, and resuming after it would skip
// the new heap's first commits.
func TestWatchResumedAcrossARecreatedHeapResyncs(t *testing.T) {
	ctx := context.Background()
	n, h := openHeap(t, nil)
	id := uuid.New()
	var last uint64
	for i := range 10 {
		last = set(t, h, id, i)
	}
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, w)
	w.Close()
	old := ev.Incarnation
	if old == 0 || old != h.Stats().Incarnation || ev.Index != last {
		t.Fatalf("snapshot event at %d of incarnation %d; the heap is at %d, incarnation %d", ev.Index, old, last, h.Stats().Incarnation)
	}

	// Same incarnation: the watch resumes where it was, no resync.
	set(t, h, id, 10)
	w, err = h.Watch(&oss.WatchOptions{From: ev.Index, Incarnation: old})
	if err != nil {
		t.Fatal(err)
	}
	if got := next(t, w); got.Kind != oss.EventChange || got.Index != last+1 || got.Incarnation != old {
		t.Fatalf("resumed in its incarnation: %v at %d of %d, want the change at %d of %d", got.Kind, got.Index, got.Incarnation, last+1, old)
	}
	w.Close()

	if err := n.DropHeap(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	h, err = n.CreateHeap(ctx, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Stats().Incarnation == old {
		t.Fatalf("the heap created again has the dropped one's incarnation %d", old)
	}
	// The new heap's first commit, well below the old version.
	first := set(t, h, id, 100)
	if first >= ev.Index {
		t.Fatalf("the new heap's first commit is at %d, not below the old version %d: the test shows nothing", first, ev.Index)
	}
	w, err = h.Watch(&oss.WatchOptions{From: ev.Index, Incarnation: old})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	got := next(t, w)
	if got.Kind != oss.EventResync || got.Incarnation != h.Stats().Incarnation || got.Index < first {
		t.Fatalf("resumed across a re-created heap: %v at %d of incarnation %d, want a resync at %d or later of %d", got.Kind, got.Index, got.Incarnation, first, h.Stats().Incarnation)
	}
	got.View(func(tx *oss.Tx) error {
		if c, err := oss.Get[counter](tx, id); err != nil || c.N != 100 {
			t.Fatalf("the resync holds %v %v, want the new heap's 100", c, err)
		}
		return nil
	})
	// And the watch goes on from there.
	again := set(t, h, id, 101)
	if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != again {
		t.Fatalf("after the resync: %v at %d, want the change at %d", ev.Kind, ev.Index, again)
	}
}

// Next with a context that has already ended returns its error and hands
// out nothing: the ready event waits for the next call, not lost.
func TestWatchNextWithAnEndedContext(t *testing.T) {
	_, h := openHeap(t, nil)
	id := uuid.New()
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	next(t, w) // the snapshot
	want := set(t, h, id, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		if ev, err := w.Next(ctx); err != context.Canceled || ev != nil {
			t.Fatalf("Next with an ended context: %v, %v; want nil, context.Canceled", ev, err)
		}
	}
	if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != want {
		t.Fatalf("after the ended context: %v at %d, want the change at %d", ev.Kind, ev.Index, want)
	}
}
