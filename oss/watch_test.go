package oss_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

func next(t *testing.T, w *oss.Watch) *oss.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func set(t *testing.T, h *oss.Heap, id uuid.UUID, n int) uint64 {
	t.Helper()
	var index uint64
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		tx.OnCommit(func() { index = tx.Index() })
		return oss.Put(tx, id, counter{n})
	})
	if err != nil {
		t.Fatal(err)
	}
	return index
}

func TestWatchDeliversCommitsInOrder(t *testing.T) {
	_, h := openHeap(t, nil)
	a, b := uuid.New(), uuid.New()
	set(t, h, a, 0)
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first := next(t, w)
	if first.Kind != oss.EventSnapshot {
		t.Fatalf("first event %v, want a snapshot", first.Kind)
	}
	first.View(func(tx *oss.Tx) error {
		if c, err := oss.Get[counter](tx, a); err != nil || c.N != 0 {
			t.Fatalf("snapshot holds %v %v", c, err)
		}
		return nil
	})
	var want []uint64
	for i := 1; i <= 20; i++ {
		id := a
		if i%2 == 0 {
			id = b
		}
		want = append(want, set(t, h, id, i))
	}
	for i, idx := range want {
		ev := next(t, w)
		if ev.Kind != oss.EventChange || ev.Index != idx || len(ev.Objects) != 1 || ev.Objects[0].Version != idx {
			t.Fatalf("event %d: %+v, want the commit at %d", i, ev, idx)
		}
		var c counter
		if err := ev.Objects[0].Decode(&c); err != nil || c.N != i+1 {
			t.Fatalf("event %d carries %v %v", i, c, err)
		}
	}
}

func TestWatchFiltersObjectsAndRoots(t *testing.T) {
	_, h := openHeap(t, nil)
	a, b := uuid.New(), uuid.New()
	w, err := h.Watch(&oss.WatchOptions{IDs: []uuid.UUID{a}, Roots: []string{"r"}, From: h.Stats().Applied})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	set(t, h, b, 1)
	ia := set(t, h, a, 2)
	h.Update(context.Background(), func(tx *oss.Tx) error { return tx.SetRoot("other", b) })
	h.Update(context.Background(), func(tx *oss.Tx) error {
		oss.Put(tx, b, counter{3})
		return tx.SetRoot("r", b)
	})
	if ev := next(t, w); ev.Index != ia || len(ev.Objects) != 1 || ev.Objects[0].ID != a {
		t.Fatalf("first event %+v, want only the write of a", ev)
	}
	if ev := next(t, w); len(ev.Objects) != 0 || len(ev.Roots) != 1 || ev.Roots[0].Name != "r" || ev.Roots[0].ID != b {
		t.Fatalf("second event %+v, want only root r", ev)
	}
}

func TestWatchResumesFromVersion(t *testing.T) {
	_, h := openHeap(t, nil)
	id := uuid.New()
	var idx []uint64
	for i := range 5 {
		idx = append(idx, set(t, h, id, i))
	}
	w, err := h.Watch(&oss.WatchOptions{From: idx[1]})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, want := range idx[2:] {
		if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != want {
			t.Fatalf("resumed watch delivered %v at %d, want the change at %d", ev.Kind, ev.Index, want)
		}
	}
}

func TestWatchGapGivesResync(t *testing.T) {
	_, h := openHeap(t, &oss.Config{WatchHistory: 4})
	id := uuid.New()
	first := set(t, h, id, 0)
	for i := 1; i < 10; i++ {
		set(t, h, id, i)
	}
	w, err := h.Watch(&oss.WatchOptions{From: first})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev := next(t, w)
	if ev.Kind != oss.EventResync {
		t.Fatalf("watch from a forgotten version delivered %v, want a resync", ev.Kind)
	}
	ev.View(func(tx *oss.Tx) error {
		if c, _ := oss.Get[counter](tx, id); c.N != 9 {
			t.Fatalf("resync state holds %v", c)
		}
		return nil
	})
	last := set(t, h, id, 10)
	if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != last {
		t.Fatalf("after the resync: %+v", ev)
	}
}

func TestSlowWatcherGetsResyncAndDoesNotStallCommits(t *testing.T) {
	_, h := openHeap(t, nil)
	id := uuid.New()
	w, err := h.Watch(&oss.WatchOptions{Buffer: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	next(t, w) // the initial snapshot
	var last uint64
	for i := range 50 { // far more than the buffer, nobody reading
		last = set(t, h, id, i)
	}
	ev := next(t, w)
	if ev.Kind != oss.EventResync || ev.Index < last {
		t.Fatalf("slow watcher got %v at %d, want a resync at %d or later", ev.Kind, ev.Index, last)
	}
	after := set(t, h, id, 99)
	if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != after {
		t.Fatalf("after the resync: %v at %d, want the change at %d", ev.Kind, ev.Index, after)
	}
}

func TestWatchEndsOnClose(t *testing.T) {
	n, h := openHeap(t, nil)
	w, err := h.Watch(&oss.WatchOptions{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := w.Next(context.Background())
		errc <- err
	}()
	n.Close(context.Background())
	if err := <-errc; !errors.Is(err, oss.ErrClosed) {
		t.Fatalf("Next across Close: %v", err)
	}
	if _, err := h.Watch(nil); !errors.Is(err, oss.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	for range 2 {
		if err := w.Close(); err != nil {
			t.Fatalf("Watch.Close: %v", err)
		}
	}
}

// A watch's buffer is bounded in bytes as well as in events: a consumer
// that falls behind by more than Config.WatchBufferBytes of change sets
// gets a resync, though its count has room left.
func TestSlowWatcherIsBoundedInBytes(t *testing.T) {
	_, h := openHeap(t, nil)
	id := uuid.New()
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	next(t, w) // the initial snapshot
	var last uint64
	for i := range 4 { // 24 MiB of values, 16 MiB of buffer by default
		value := bytes.Repeat([]byte{byte('a' + i)}, 6<<20)
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			tx.OnCommit(func() { last = tx.Index() })
			return oss.Put(tx, id, value)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ev := next(t, w)
	if ev.Kind != oss.EventResync || ev.Index < last {
		t.Fatalf("a watcher %d bytes behind got %v at %d, want a resync at %d or later", 24<<20, ev.Kind, ev.Index, last)
	}
	after := set(t, h, id, 1)
	if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != after {
		t.Fatalf("after the resync: %v at %d, want the change at %d", ev.Kind, ev.Index, after)
	}
}

// TestWatchCloseEndsNext: the usual consumer is a goroutine blocked in
// Next(context.Background()); closing the watch must end it with
// ErrClosed, whether Next is already waiting or called later, and the
// heap goes on. The node runs in a synctest bubble so that the readers are
// known to be waiting when the watch closes.
func TestWatchCloseEndsNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := oss.Start(context.Background(), &oss.Config{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close(context.Background())
		h, err := n.CreateHeapIfNotExists(context.Background(), "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := h.Watch(&oss.WatchOptions{From: h.Stats().Applied})
		if err != nil {
			t.Fatal(err)
		}
		const readers = 3
		errc := make(chan error, readers)
		for range readers {
			go func() {
				for {
					if _, err := w.Next(context.Background()); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		set(t, h, uuid.New(), 1)
		synctest.Wait() // every reader waits in Next
		w.Close()
		for range readers {
			select {
			case err := <-errc:
				if !errors.Is(err, oss.ErrClosed) {
					t.Fatalf("Next after Close: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Next still blocked a minute after Close")
			}
		}
		if _, err := w.Next(context.Background()); !errors.Is(err, oss.ErrClosed) {
			t.Fatalf("Next on a closed watch: %v", err)
		}
		set(t, h, uuid.New(), 2)
	})
}
