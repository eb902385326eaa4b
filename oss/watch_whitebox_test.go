package oss

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// historyBytes sums the values the heap's watch history holds.
func historyBytes(h *Heap) int {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	n := 0
	for _, cs := range h.history {
		for _, c := range cs.Objects {
			n += len(c.Value)
		}
	}
	return n
}

// The watch history is bounded in bytes as well as in change sets: a few
// large commits push the older ones out, and a watch resuming from a
// version before them gets an explicit resync, never a silent gap.
func TestWatchHistoryIsBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	n, err := Start(ctx, &Config{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeapIfNotExists(ctx, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 16 << 20 // Config.WatchHistoryBytes by default
	id := uuid.New()
	var idx []uint64
	for i := range 5 {
		value := bytes.Repeat([]byte{byte('a' + i)}, 6<<20)
		err := h.Update(ctx, func(tx *Tx) error {
			tx.OnCommit(func() { idx = append(idx, tx.Index()) })
			return Put(tx, id, value)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := historyBytes(h); got > limit {
		t.Fatalf("the watch history holds %d bytes of values, more than its %d", got, limit)
	}

	next := func(w *Watch) *Event {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, await.Deadline)
		defer cancel()
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	old, err := h.Watch(&WatchOptions{From: idx[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if ev := next(old); ev.Kind != EventResync || ev.Index < idx[4] {
		t.Fatalf("a watch from evicted version %d got %v at %d, want a resync at %d or later", idx[0], ev.Kind, ev.Index, idx[4])
	}
	// What fits is still kept: a watch from the last but one commit
	// replays the last.
	recent, err := h.Watch(&WatchOptions{From: idx[3]})
	if err != nil {
		t.Fatal(err)
	}
	defer recent.Close()
	if ev := next(recent); ev.Kind != EventChange || ev.Index != idx[4] {
		t.Fatalf("a watch from version %d got %v at %d, want the change at %d", idx[3], ev.Kind, ev.Index, idx[4])
	}
	// The counts the bounds keep match what is held.
	recent.mu.Lock()
	queued := recent.queueBytes
	recent.mu.Unlock()
	h.watchMu.Lock()
	size := 0
	for i := range h.history {
		size += changeSetBytes(&h.history[i])
	}
	kept := h.histSize
	h.watchMu.Unlock()
	if queued != 0 || kept != size {
		t.Fatalf("a drained watch counts %d bytes queued; the history counts %d bytes, holds %d", queued, kept, size)
	}
}

// A merged watch counts its pending event as the bounds say: the event's
// entries and values, and an index entry for each object and root; taking
// it gives the count back.
func TestWatchMergedCountsItsBytes(t *testing.T) {
	ctx := context.Background()
	n, err := Start(ctx, &Config{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeapIfNotExists(ctx, "merged", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.Watch(&WatchOptions{From: h.Stats().Applied, Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	check := func() {
		t.Helper()
		w.mu.Lock()
		defer w.mu.Unlock()
		want := 0
		if p := w.pending; p != nil {
			want = eventBytes(p.ev) + indexBytes*(len(p.ev.Objects)+len(p.ev.Roots))
			if p.bytes != want {
				t.Fatalf("the pending event counts %d bytes, holds %d", p.bytes, want)
			}
		}
		if w.queueBytes != want {
			t.Fatalf("the watch counts %d bytes, holds %d", w.queueBytes, want)
		}
	}
	a, b := uuid.New(), uuid.New()
	var last uint64
	steps := []func(tx *Tx) error{
		func(tx *Tx) error { return Put(tx, a, bytes.Repeat([]byte{'a'}, 100)) },
		func(tx *Tx) error { return Put(tx, b, bytes.Repeat([]byte{'b'}, 50)) },
		func(tx *Tx) error { return Put(tx, a, []byte("short")) },
		func(tx *Tx) error { return tx.SetRoot("root", a) },
		func(tx *Tx) error { return tx.SetRoot("root", b) },
		func(tx *Tx) error { return tx.Delete(b) },
	}
	for _, fn := range steps {
		err := h.Update(ctx, func(tx *Tx) error {
			tx.OnCommit(func() { last = tx.Index() })
			return fn(tx)
		})
		if err != nil {
			t.Fatal(err)
		}
		check()
	}
	for prev := uint64(0); prev < last; {
		ctx, cancel := context.WithTimeout(ctx, await.Deadline)
		ev, err := w.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		prev = ev.Index
		check()
	}
	w.mu.Lock()
	queued := w.queueBytes
	w.mu.Unlock()
	if queued != 0 {
		t.Fatalf("a drained merged watch counts %d bytes", queued)
	}
}

// The history keeps the newest change sets in order as they come one or
// several at a time and the oldest go, and once its array has grown a
// commit no longer allocates: the array's front, which dropping frees,
// is used again.
func TestWatchHistoryReusesItsArray(t *testing.T) {
	h := &Heap{watchers: map[*Watch]struct{}{}, cfg: &Config{WatchHistory: 100, WatchHistoryBytes: 1 << 30}}
	next := uint64(1)
	push := func(k int) {
		sets := make([]consistency.ChangeSet, k)
		for i := range sets {
			sets[i] = consistency.ChangeSet{Index: next}
			next++
		}
		h.deliver(sets)
	}
	for i := range 5000 {
		push(1 + i%7)
		last := next - 1
		if n := uint64(len(h.history)); n != min(last, 100) {
			t.Fatalf("after index %d the history holds %d sets, want %d", last, n, min(last, 100))
		}
		for j, cs := range h.history {
			if want := last - uint64(len(h.history)-1-j); cs.Index != want {
				t.Fatalf("after index %d the history's set %d is index %d, want %d", last, j, cs.Index, want)
			}
		}
		if last > 100 && h.histFrom != last-100 {
			t.Fatalf("after index %d histFrom is %d, want %d", last, h.histFrom, last-100)
		}
		// What the array's unused part holds is cleared, not kept.
		base := h.histBase[:cap(h.histBase)]
		off := cap(h.histBase) - cap(h.history)
		for j := range base {
			if (j < off || j >= off+len(h.history)) && base[j].Index != 0 {
				t.Fatalf("after index %d the array keeps index %d outside the history", last, base[j].Index)
			}
		}
	}
	one := []consistency.ChangeSet{{}}
	if a := testing.AllocsPerRun(20, func() {
		for range 500 {
			one[0].Index = next
			next++
			h.deliver(one)
		}
	}); a != 0 {
		t.Fatalf("500 commits' change sets cost %.0f allocations in the history, want 0", a)
	}
}
