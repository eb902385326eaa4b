package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// A watch of a root name that SetRoot refuses (empty, not UTF-8, longer
// than a commit record may be) waited for ever, silently: no root can
// have the name. Watch and SetInterest refuse it by SetRoot's rule, with
// SetRoot's words, and a refused SetInterest leaves the watch as it was.
func TestWatchRefusesRootNamesSetRootRefuses(t *testing.T) {
	const max = 4096
	n, h := openHeap(t, &oss.Config{MaxCommitBytes: max})
	ctx := context.Background()
	w, err := h.Watch(&oss.WatchOptions{Roots: []string{"lobby"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := next(t, w); ev.Kind != oss.EventSnapshot {
		t.Fatalf("first event %v, want the snapshot", ev.Kind)
	}
	for what, name := range map[string]string{
		"empty":        "",
		"not UTF-8":    "caf\xe9",
		"over the cap": strings.Repeat("r", max+1),
	} {
		rule := n.CheckRootName(name)
		if rule == nil {
			t.Fatalf("%s: Node.CheckRootName takes it", what)
		}
		serr := h.Update(ctx, func(tx *oss.Tx) error { return tx.SetRoot(name, uuid.New()) })
		if serr == nil || serr.Error() != rule.Error() {
			t.Fatalf("%s: SetRoot says %v, Node.CheckRootName %v: not one rule", what, serr, rule)
		}
		if _, err := h.Watch(&oss.WatchOptions{Roots: []string{"lobby", name}}); !errors.Is(err, oss.ErrInvalidArgument) || !strings.Contains(err.Error(), rule.Error()) {
			t.Errorf("%s: Watch of the root: %v; want ErrInvalidArgument saying %q", what, err, rule)
		}
		if err := w.SetInterest(nil, []string{name}); !errors.Is(err, oss.ErrInvalidArgument) || !strings.Contains(err.Error(), rule.Error()) {
			t.Errorf("%s: SetInterest of the root: %v; want ErrInvalidArgument saying %q", what, err, rule)
		}
	}
	// The refused SetInterest changed nothing: no resync, and the watch
	// still covers lobby.
	var index uint64
	err = h.Update(ctx, func(tx *oss.Tx) error {
		tx.OnCommit(func() { index = tx.Index() })
		return tx.SetRoot("lobby", uuid.New())
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != index || len(ev.Roots) != 1 || ev.Roots[0].Name != "lobby" {
		t.Fatalf("after the refused SetInterest calls: %v at %d (roots %v), want the change of lobby at %d", ev.Kind, ev.Index, ev.Roots, index)
	}
}

// Watch.Next of a watch whose heap was dropped says so, as every call on
// the dropped heap's handle does: also a Next waiting when the drop came,
// and on a merged and a shaped watch.
func TestWatchNextOfADroppedHeapSaysDropped(t *testing.T) {
	n, h := openHeap(t, nil)
	ctx := context.Background()
	opts := []*oss.WatchOptions{nil, {Merge: true}, {Rate: 1000}}
	ws := make([]*oss.Watch, len(opts))
	for i, o := range opts {
		w, err := h.Watch(o)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		next(t, w) // the snapshot
		ws[i] = w
	}
	errs := make(chan error, len(ws))
	for _, w := range ws {
		go func() {
			for {
				if _, err := w.Next(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	set(t, h, uuid.New(), 1)
	if err := n.DropHeap(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	for range ws {
		if err := <-errs; !errors.Is(err, oss.ErrClosed) || !strings.Contains(err.Error(), "was dropped") {
			t.Errorf("Next of a watch of the dropped heap: %v; want ErrClosed saying it was dropped", err)
		}
	}
	for i, w := range ws {
		if _, err := w.Next(ctx); !errors.Is(err, oss.ErrClosed) || !strings.Contains(err.Error(), "was dropped") {
			t.Errorf("watch %d: a later Next: %v; want ErrClosed saying it was dropped", i, err)
		}
	}
}

// A watch resumed from an index the heap has not reached, in its own
// incarnation, waits for the commits after it (etcd's watch from a
// future revision does too) and delivers them; one of another
// incarnation resyncs at once.
func TestWatchFromAheadWaitsInItsIncarnation(t *testing.T) {
	_, h := openHeap(t, nil)
	id := uuid.New()
	at := set(t, h, id, 0)
	inc := h.Stats().Incarnation
	w, err := h.Watch(&oss.WatchOptions{From: at + 2, Incarnation: inc})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	set(t, h, id, 1)
	set(t, h, id, 2) // at + 2: covered by From
	want := set(t, h, id, 3)
	if ev := next(t, w); ev.Kind != oss.EventChange || ev.Index != want || ev.Index != at+3 {
		t.Fatalf("resumed ahead at %d: first event %v at %d, want the change at %d", at+2, ev.Kind, ev.Index, at+3)
	}
	other, err := h.Watch(&oss.WatchOptions{From: at + 100, Incarnation: inc + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if ev := next(t, other); ev.Kind != oss.EventResync || ev.Incarnation != inc {
		t.Fatalf("resumed ahead in another incarnation: %v of %d, want a resync of %d", ev.Kind, ev.Incarnation, inc)
	}
}
