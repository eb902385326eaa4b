package oss_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// Two nodes that drop the same heap at once: one drops it, the other is
// told it does not exist (ErrNoHeap). Three that create the same heap at
// once: one creates it, the others are told it exists (ErrHeapExists)
// with no handle.
func TestAPIProbeRacingDropAndCreate(t *testing.T) {
	t.Parallel()
	c, _ := probeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := []string{"n1", "n2", "n3"}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = c.Node(n).DropHeap(ctx, "kv") })
	}
	wg.Wait()
	dropped := 0
	for i, err := range errs {
		switch {
		case err == nil:
			dropped++
		case !errors.Is(err, oss.ErrNoHeap):
			t.Errorf("DropHeap on %s: %v, want nil or ErrNoHeap", nodes[i], err)
		}
	}
	if dropped != 1 {
		t.Errorf("%d of three racing DropHeaps dropped the heap (%v), want 1", dropped, errs)
	}
	handles := make([]*oss.Heap, len(nodes))
	for i, n := range nodes {
		wg.Go(func() { handles[i], errs[i] = c.Node(n).CreateHeap(ctx, "fresh", nil) })
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil && handles[i] != nil:
			created++
		case !errors.Is(err, oss.ErrHeapExists) || handles[i] != nil:
			t.Errorf("CreateHeap on %s: %v, %v; want a handle or ErrHeapExists and none", nodes[i], handles[i], err)
		}
	}
	if created != 1 {
		t.Errorf("%d of three racing CreateHeaps created the heap (%v), want 1", created, errs)
	}
}

// Update gives up after Config.MaxRetries re-runs of a function that
// always conflicts, with a *ConflictError that counts its runs.
func TestAPIProbeConflictRetriesCounted(t *testing.T) {
	for _, max := range []int{2, -1} {
		ctx := context.Background()
		n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger(), MaxRetries: max})
		if err != nil {
			t.Fatal(err)
		}
		h, err := n.CreateHeap(ctx, "kv", nil)
		if err != nil {
			t.Fatal(err)
		}
		x, y := uuid.New(), uuid.New()
		runs := 0
		before := h.Stats()
		err = h.Update(ctx, func(tx *oss.Tx) error {
			runs++
			if _, err := tx.Exists(x); err != nil {
				return err
			}
			// A transaction of its own changes x under this one.
			if err := h.Update(ctx, func(tx2 *oss.Tx) error { return oss.Put(tx2, x, runs) }); err != nil {
				return err
			}
			return oss.Put(tx, y, runs)
		})
		want := max + 1
		if max < 0 {
			want = 1
		}
		var ce *oss.ConflictError
		if !errors.As(err, &ce) || ce.Attempts != want || ce.ID != x || runs != want {
			t.Errorf("MaxRetries %d: Update returned %v (%+v) after %d runs; want a conflict on %v after %d", max, err, ce, runs, x, want)
		}
		if s := h.Stats(); s.Retries-before.Retries != uint64(want-1) {
			t.Errorf("MaxRetries %d: Stats.Retries grew by %d, want %d", max, s.Retries-before.Retries, want-1)
		}
		h.View(ctx, func(tx *oss.Tx) error {
			if ok, _ := tx.Exists(y); ok {
				t.Errorf("MaxRetries %d: the conflicting transaction's write is there", max)
			}
			return nil
		}, nil)
		n.Close(ctx)
	}
}

// A ctx that ends inside an Update function ends the Update with ctx's
// error and nothing written (the record is never proposed), and a Next
// whose ctx ends returns its error and loses no event.
func TestAPIProbeCancelledMidCall(t *testing.T) {
	_, h, r := probeHeap(t)
	ctx, cancel := context.WithCancel(context.Background())
	err := h.Update(ctx, func(tx *oss.Tx) error {
		cancel()
		return r.Put(tx, 5)
	})
	if !errors.Is(err, context.Canceled) || errors.Is(err, oss.ErrCommitUnknown) {
		t.Errorf("Update whose ctx ended inside fn: %v; want context.Canceled, not unknown", err)
	}
	bg := context.Background()
	w, err := h.Watch(&oss.WatchOptions{From: h.Stats().Applied})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	short, cancel2 := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel2()
	if ev, err := w.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next with nothing to deliver: %v, %v; want its ctx's error", ev, err)
	}
	if err := h.Update(bg, func(tx *oss.Tx) error { return r.Put(tx, 6) }); err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(bg)
	if err != nil || ev.Kind != oss.EventChange || len(ev.Objects) != 1 {
		t.Fatalf("Next after one whose ctx ended: %v, %v; want the change", ev, err)
	}
	var v int64
	if err := ev.Objects[0].Decode(&v); err != nil || v != 6 {
		t.Errorf("the change holds %d, %v; want 6 (the cancelled Update's 5 never written)", v, err)
	}
}

// Watches of a heap whose history is short: a consumer that falls behind
// its buffer gets a resync and then every later commit in order; a watch
// resumed from an index no longer kept starts with a resync; commits go
// on meanwhile.
func TestAPIProbeSlowWatchAndLostHistory(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger(), WatchHistory: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	h, err := n.CreateHeap(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := h.Stats().Applied
	slow, err := h.Watch(&oss.WatchOptions{From: first, Buffer: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	id := uuid.New()
	for i := range 20 {
		if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, i) }); err != nil {
			t.Fatal(err)
		}
	}
	last := h.Stats().Applied
	resync := false
	var at uint64
	for at < last {
		ev, err := slow.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case oss.EventResync:
			resync = true
		case oss.EventChange:
			if ev.FromIndex <= at {
				t.Fatalf("event %d..%d after %d", ev.FromIndex, ev.Index, at)
			}
		}
		at = ev.Index
	}
	if !resync {
		t.Error("a consumer 20 commits behind a buffer of 2 got no resync")
	}
	late, err := h.Watch(&oss.WatchOptions{From: first})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	ev, err := late.Next(ctx)
	if err != nil || ev.Kind != oss.EventResync || ev.Index != last {
		t.Fatalf("a watch from index %d with 4 change sets kept: %v, %v; want a resync at %d", first, ev, err, last)
	}
	ev.View(func(tx *oss.Tx) error {
		if v, err := oss.Get[int](tx, id); v != 19 || err != nil {
			t.Errorf("the resync's state holds %d, %v; want 19", v, err)
		}
		return nil
	})
}

// A root name near the limit of a commit record commits, replicates and
// reads back on every node, and its watch delivers it.
func TestAPIProbeLongRootNameReplicates(t *testing.T) {
	t.Parallel()
	c, r := probeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := strings.Repeat("ü", 4000) // 8,000 bytes
	if err := c.Node("n1").CheckRootName(name); err != nil {
		t.Fatal(err)
	}
	w, err := c.Heap("n3", "kv").Watch(&oss.WatchOptions{Roots: []string{name}, From: c.Heap("n3", "kv").Stats().Applied})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := c.Heap("n1", "kv").Update(ctx, func(tx *oss.Tx) error { return tx.SetRoot(name, r.ID) }); err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(ctx)
	if err != nil || len(ev.Roots) != 1 || ev.Roots[0].Name != name || ev.Roots[0].ID != r.ID {
		t.Fatalf("the watch of the root: %v, %v", ev, err)
	}
	c.WaitConverged("kv")
	for _, n := range []string{"n1", "n2", "n3"} {
		c.Heap(n, "kv").View(ctx, func(tx *oss.Tx) error {
			if id, err := tx.Root(name); id != r.ID || err != nil {
				t.Errorf("%s: the root is bound to %v, %v; want %v", n, id, err, r.ID)
			}
			return nil
		}, nil)
	}
}

// A Delete of an object, and a DeleteRoot of a root, that did not exist
// commit and reach a watch as deletions (Change.Deleted,
// RootChange.Deleted), and leave nothing behind.
func TestAPIProbeWatchOfDeletionsOfNothing(t *testing.T) {
	_, h, _ := probeHeap(t)
	ctx := context.Background()
	w, err := h.Watch(&oss.WatchOptions{From: h.Stats().Applied})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ghost := uuid.New()
	before := h.Stats().Objects
	if err := h.Update(ctx, func(tx *oss.Tx) error {
		return errors.Join(tx.Delete(ghost), tx.DeleteRoot("never"))
	}); err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(ctx)
	if err != nil || len(ev.Objects) != 1 || !ev.Objects[0].Deleted || ev.Objects[0].ID != ghost ||
		len(ev.Roots) != 1 || !ev.Roots[0].Deleted || ev.Roots[0].Name != "never" {
		t.Fatalf("the event of deletions of nothing: %+v, %v", ev, err)
	}
	if err := ev.Objects[0].Decode(new(int)); !errors.Is(err, oss.ErrNotFound) {
		t.Errorf("Decode of the deletion: %v, want ErrNotFound", err)
	}
	h.View(ctx, func(tx *oss.Tx) error {
		if v, err := tx.Version(ghost); v != 0 || err != nil || h.Stats().Objects != before {
			t.Errorf("after deleting nothing: version %d, %v, %d objects (were %d)", v, err, h.Stats().Objects, before)
		}
		return nil
	}, nil)
}
