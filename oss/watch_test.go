package oss_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
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
		if ev.Kind != oss.EventChange || ev.Index != idx || ev.FromIndex != idx || ev.Commits != 1 || len(ev.Objects) != 1 || ev.Objects[0].Version != idx {
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
	if err := await.Recv(t, errc, "Next across Close to return"); !errors.Is(err, oss.ErrClosed) {
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

// setPair commits one transaction that writes a and b with the same
// counter, or deletes both if n < 0, and returns its index.
func setPair(t testing.TB, h *oss.Heap, a, b uuid.UUID, n int) uint64 {
	t.Helper()
	index, err := writePair(h, a, b, n)
	if err != nil {
		t.Fatal(err)
	}
	return index
}

// writePair is setPair for goroutines other than the test's.
func writePair(h *oss.Heap, a, b uuid.UUID, n int) (index uint64, err error) {
	err = h.Update(context.Background(), func(tx *oss.Tx) error {
		tx.OnCommit(func() { index = tx.Index() })
		if n < 0 {
			tx.Delete(a)
			return tx.Delete(b)
		}
		oss.Put(tx, a, counter{n})
		return oss.Put(tx, b, counter{n})
	})
	return index, err
}

// pairOf checks that an event holds a and b as one commit wrote them:
// both or neither, equal counters or both deleted. It returns the counter
// (-1 for deleted), and ok false if the event holds neither.
func pairOf(t testing.TB, ev *oss.Event, a, b uuid.UUID) (n int, ok bool) {
	t.Helper()
	var ca, cb *oss.Change
	for i := range ev.Objects {
		switch ev.Objects[i].ID {
		case a:
			ca = &ev.Objects[i]
		case b:
			cb = &ev.Objects[i]
		}
	}
	if ca == nil && cb == nil {
		return 0, false
	}
	if ca == nil || cb == nil {
		t.Fatalf("event %d..%d holds one of a commit's two writes: %+v", ev.FromIndex, ev.Index, ev.Objects)
	}
	if ca.Deleted || cb.Deleted {
		if !ca.Deleted || !cb.Deleted || ca.Version != cb.Version {
			t.Fatalf("event %d..%d holds a and b from different commits: %+v %+v", ev.FromIndex, ev.Index, ca, cb)
		}
		return -1, true
	}
	var na, nb counter
	if err := ca.Decode(&na); err != nil {
		t.Fatal(err)
	}
	if err := cb.Decode(&nb); err != nil {
		t.Fatal(err)
	}
	if na != nb || ca.Version != cb.Version {
		t.Fatalf("event %d..%d holds a=%d at %d and b=%d at %d: part of a commit", ev.FromIndex, ev.Index, na.N, ca.Version, nb.N, cb.Version)
	}
	if ca.Version < ev.FromIndex || ca.Version > ev.Index {
		t.Fatalf("event %d..%d holds version %d", ev.FromIndex, ev.Index, ca.Version)
	}
	return na.N, true
}

// follows checks that a merged watch's event follows on from the one
// before, whose index was prev.
func follows(t testing.TB, ev *oss.Event, prev uint64) {
	t.Helper()
	if ev.Kind != oss.EventChange {
		t.Fatalf("event %v at %d, want a change", ev.Kind, ev.Index)
	}
	if ev.FromIndex != prev+1 || ev.Index < ev.FromIndex || ev.Commits < 1 {
		t.Fatalf("event %d..%d of %d commits after %d: a gap or an empty event", ev.FromIndex, ev.Index, ev.Commits, prev)
	}
	if (ev.Commits == 1) != (ev.TxID != uuid.Nil) {
		t.Fatalf("event of %d commits has TxID %v", ev.Commits, ev.TxID)
	}
}

// A merged watch delivers whole commits: every commit writes a and b
// with one counter, and every event, however many commits it merges,
// shows them equal. Events follow on from each other with no gap, and
// commits of objects the watch does not cover are passed over.
func TestWatchMergedEventsAreWholeCommits(t *testing.T) {
	_, h := openHeap(t, nil)
	a, b, other := uuid.New(), uuid.New(), uuid.New()
	start := h.Stats().Applied
	w, err := h.Watch(&oss.WatchOptions{IDs: []uuid.UUID{a, b}, From: start, Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Ten commits before the consumer looks: at least nine of them are
	// handed to the watch by then, and arrive as one event.
	for i := 1; i <= 10; i++ {
		setPair(t, h, a, b, i)
		set(t, h, other, i)
	}
	ev := next(t, w)
	follows(t, ev, start)
	if n, ok := pairOf(t, ev, a, b); !ok || ev.Commits < 9 || n < 9 || ev.TxID != uuid.Nil {
		t.Fatalf("first event: %d commits, counter %d, want 9 or 10 merged", ev.Commits, n)
	}
	prev, commits := ev.Index, ev.Commits

	// Then commits race the consumer: events merge what waits, at any
	// boundary between commits.
	const total = 300
	done := make(chan uint64, 1)
	go func() {
		var last uint64
		for i := 11; i <= total; i++ {
			n := i
			if i%50 == 25 {
				n = -1 // delete both
			}
			var err error
			if last, err = writePair(h, a, b, n); err != nil {
				t.Error(err)
				break
			}
			if i%7 == 0 {
				if _, err := writePair(h, other, other, i); err != nil {
					t.Error(err)
					break
				}
			}
		}
		done <- last
	}()
	last := await.Recv(t, done, "the writer to end")
	if t.Failed() {
		return
	}
	final := 0
	for prev < last {
		ev := next(t, w)
		follows(t, ev, prev)
		n, ok := pairOf(t, ev, a, b)
		if !ok {
			t.Fatalf("event %d..%d carries neither watched object", ev.FromIndex, ev.Index)
		}
		final = n
		if len(ev.Objects) != 2 {
			t.Fatalf("event holds %d objects, want a and b only", len(ev.Objects))
		}
		prev, commits = ev.Index, commits+ev.Commits
	}
	if commits != total {
		t.Fatalf("events carried %d commits, want %d", commits, total)
	}
	if final != total {
		t.Fatalf("last event holds %d, want %d", final, total)
	}
}

// A merged watch resumes from a version: the commits after it arrive
// merged, the first event starting just after it; from a version whose
// history is gone it resyncs as an unmerged watch does.
func TestWatchMergedResumesFromVersion(t *testing.T) {
	_, h := openHeap(t, &oss.Config{WatchHistory: 8})
	a, b := uuid.New(), uuid.New()
	var idx []uint64
	for i := range 12 {
		idx = append(idx, setPair(t, h, a, b, i))
	}
	for _, opts := range []*oss.WatchOptions{{From: idx[5], Merge: true}, {From: idx[5], Rate: 1000}} {
		w, err := h.Watch(opts)
		if err != nil {
			t.Fatal(err)
		}
		prev, commits := idx[5], 0
		var n int
		for prev < idx[11] {
			ev := next(t, w)
			follows(t, ev, prev)
			n, _ = pairOf(t, ev, a, b)
			prev, commits = ev.Index, commits+ev.Commits
		}
		if commits != 6 || n != 11 {
			t.Fatalf("resumed from %d: %d commits, counter %d; want 6 commits up to 11", idx[5], commits, n)
		}
		w.Close()
	}
	w, err := h.Watch(&oss.WatchOptions{From: idx[0], Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev := next(t, w)
	if ev.Kind != oss.EventResync || ev.Index < idx[11] {
		t.Fatalf("merged watch from a forgotten version delivered %v at %d, want a resync", ev.Kind, ev.Index)
	}
	last := setPair(t, h, a, b, 12)
	for prev := ev.Index; prev < last; prev = ev.Index {
		ev = next(t, w)
		follows(t, ev, prev)
	}
}

// A merged watch's pending event grows with the distinct objects it
// holds, not with the commits: many commits to two objects stay within a
// small buffer, many objects pass it and the watch resyncs.
func TestWatchMergedIsBoundedInBytes(t *testing.T) {
	_, h := openHeap(t, nil)
	a, b := uuid.New(), uuid.New()
	const limit = 4096
	start := h.Stats().Applied
	w, err := h.Watch(&oss.WatchOptions{From: start, Merge: true, BufferBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var last uint64
	for i := range 200 { // 200 commits of about 200 bytes counted each
		last = setPair(t, h, a, b, i)
	}
	prev := start
	for prev < last {
		ev := next(t, w)
		follows(t, ev, prev)
		pairOf(t, ev, a, b)
		prev = ev.Index
	}

	value := bytes.Repeat([]byte{'x'}, 100)
	for range 40 { // 40 distinct objects of 164 bytes counted each
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			tx.OnCommit(func() { last = tx.Index() })
			return oss.Put(tx, uuid.New(), value)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ev := next(t, w)
	if ev.Kind != oss.EventResync || ev.Index < last {
		t.Fatalf("a merged watch of more than %d bytes got %v at %d, want a resync at %d or later", limit, ev.Kind, ev.Index, last)
	}
	after := setPair(t, h, a, b, 1000)
	for prev := ev.Index; prev < after; prev = ev.Index {
		ev = next(t, w)
		follows(t, ev, prev)
	}
}

// A rate-shaped watch under fake time: a consumer that calls Next as fast
// as it can gets events at least 1/Rate apart, each a whole number of
// commits, with no gaps, adding up to every commit; after a quiet spell
// the next commit comes at once.
func TestWatchRateBoundUnderFakeTime(t *testing.T) {
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
		a, b := uuid.New(), uuid.New()
		const rate, interval = 20, 50 * time.Millisecond
		w, err := h.Watch(&oss.WatchOptions{Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		first := next(t, w)
		if first.Kind != oss.EventSnapshot {
			t.Fatalf("first event %v", first.Kind)
		}

		// 1000 commits a second for two seconds.
		const total = 2000
		begin := time.Now()
		done := make(chan uint64, 1)
		go func() {
			var last uint64
			for i := 1; i <= total; i++ {
				var err error
				if last, err = writePair(h, a, b, i); err != nil {
					t.Error(err)
					break
				}
				time.Sleep(time.Millisecond)
			}
			done <- last
		}()
		var last uint64
		prev, at := first.Index, time.Now()
		events, commits, seen := 0, 0, 0
		for seen < total {
			ev := next(t, w)
			if gap := time.Since(at); gap < interval {
				t.Fatalf("event %d came %v after the one before, want %v or more", events, gap, interval)
			}
			follows(t, ev, prev)
			seen, _ = pairOf(t, ev, a, b)
			prev, at = ev.Index, time.Now()
			events, commits = events+1, commits+ev.Commits
		}
		last = <-done
		elapsed := time.Since(begin)
		if commits != total || prev != last {
			t.Fatalf("events carried %d commits up to %d, want %d up to %d", commits, prev, total, last)
		}
		if most := int(elapsed/interval) + 1; events > most {
			t.Fatalf("%d events in %v, at most %d expected", events, elapsed, most)
		}
		t.Logf("%d commits in %v arrived in %d events", commits, elapsed, events)

		time.Sleep(time.Second)
		before := time.Now()
		last = setPair(t, h, a, b, total+1)
		ev := next(t, w)
		follows(t, ev, prev)
		if ev.Index != last || ev.Commits != 1 || time.Since(before) != 0 {
			t.Fatalf("after a quiet spell: %d..%d of %d commits after %v, want the commit at %d at once", ev.FromIndex, ev.Index, ev.Commits, time.Since(before), last)
		}
	})
}

// When the node closes, a shaped watch hands out what it holds at once,
// without waiting for its next slot, then ends.
func TestWatchRateDrainsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := oss.Start(context.Background(), &oss.Config{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		h, err := n.CreateHeapIfNotExists(context.Background(), "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b := uuid.New(), uuid.New()
		w, err := h.Watch(&oss.WatchOptions{Rate: 0.01}) // one event in 100 s
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		first := next(t, w)
		last := setPair(t, h, a, b, 1)
		got := make(chan *oss.Event, 1)
		go func() {
			ev, err := w.Next(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- ev
		}()
		synctest.Wait() // Next waits for its slot
		before := time.Now()
		n.Close(context.Background())
		ev := <-got
		if ev == nil {
			return
		}
		follows(t, ev, first.Index)
		if ev.Index != last || time.Since(before) >= 100*time.Second {
			t.Fatalf("on close: %d..%d after %v", ev.FromIndex, ev.Index, time.Since(before))
		}
		if _, err := w.Next(context.Background()); !errors.Is(err, oss.ErrClosed) {
			t.Fatalf("Next after the last event of a closed node: %v", err)
		}
	})
}

// SetInterest moves a watch to other objects: the next event is a resync
// whose state holds them, and later events carry them alone.
func TestWatchSetInterest(t *testing.T) {
	for _, merge := range []bool{false, true} {
		_, h := openHeap(t, nil)
		a, b := uuid.New(), uuid.New()
		w, err := h.Watch(&oss.WatchOptions{IDs: []uuid.UUID{a}, From: h.Stats().Applied, Merge: merge})
		if err != nil {
			t.Fatal(err)
		}
		set(t, h, b, 1)
		ia := set(t, h, a, 2)
		if ev := next(t, w); ev.Index != ia || len(ev.Objects) != 1 || ev.Objects[0].ID != a {
			t.Fatalf("merge=%v: first event %+v, want only the write of a", merge, ev)
		}
		set(t, h, a, 3)
		if err := w.SetInterest([]uuid.UUID{b}, []string{"r"}); err != nil {
			t.Fatal(err)
		}
		ev := next(t, w)
		if ev.Kind != oss.EventResync {
			t.Fatalf("merge=%v: after SetInterest: %v, want a resync", merge, ev.Kind)
		}
		ev.View(func(tx *oss.Tx) error {
			if c, err := oss.Get[counter](tx, b); err != nil || c.N != 1 {
				t.Fatalf("merge=%v: resync holds b=%v %v", merge, c, err)
			}
			return nil
		})
		prev := ev.Index
		set(t, h, a, 4)
		ib := set(t, h, b, 5)
		h.Update(context.Background(), func(tx *oss.Tx) error { return tx.SetRoot("r", a) })
		var sawB, sawR bool
		for !sawR {
			ev := next(t, w)
			if merge {
				follows(t, ev, prev)
				prev = ev.Index
			}
			for _, c := range ev.Objects {
				if c.ID != b || c.Version != ib {
					t.Fatalf("merge=%v: after SetInterest: %+v", merge, c)
				}
				sawB = true
			}
			sawR = len(ev.Roots) == 1 && ev.Roots[0].Name == "r" && ev.Roots[0].ID == a
		}
		if !sawB {
			t.Fatalf("merge=%v: the write of b never came", merge)
		}
		w.Close()
		if err := w.SetInterest(nil, nil); !errors.Is(err, oss.ErrClosed) {
			t.Fatalf("SetInterest on a closed watch: %v", err)
		}
	}
}

func TestWatchRejectsABadRate(t *testing.T) {
	_, h := openHeap(t, nil)
	for _, r := range []float64{-1, math.NaN()} {
		if _, err := h.Watch(&oss.WatchOptions{Rate: r}); !errors.Is(err, oss.ErrInvalidArgument) {
			t.Fatalf("Rate %v: %v", r, err)
		}
	}
}
