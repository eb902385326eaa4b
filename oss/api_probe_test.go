package oss_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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

// The arguments ErrInvalidArgument names are refused by the calls that
// would store them, and abort the transaction; reading them is a read of
// nothing (ErrNotFound), as a zero Ref's Get is.
func TestProbeInvalidArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, r := probeHeap(t)
	for _, c := range []struct {
		name string
		fn   func(tx *oss.Tx) error
	}{
		{"Put of the nil ID", func(tx *oss.Tx) error { return oss.Put(tx, uuid.Nil, int64(1)) }},
		{"Ref.Put of a zero Ref", func(tx *oss.Tx) error { return oss.Ref[int64]{}.Put(tx, 1) }},
		{"SetRoot with an empty name", func(tx *oss.Tx) error { return tx.SetRoot("", r.ID) }},
		{"SetRoot to the nil ID", func(tx *oss.Tx) error { return tx.SetRoot("home", uuid.Nil) }},
		{"SetRoot with a name not UTF-8", func(tx *oss.Tx) error { return tx.SetRoot("\xff", r.ID) }},
	} {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			if err := r.Put(tx, 7); err != nil {
				return err
			}
			c.fn(tx) // the error is ignored: the transaction is aborted all the same
			return nil
		})
		if !errors.Is(err, oss.ErrInvalidArgument) {
			t.Errorf("%s: Update returned %v, want ErrInvalidArgument", c.name, err)
		}
	}
	err := h.View(ctx, func(tx *oss.Tx) error {
		if v, err := r.Get(tx); err != nil || v != 0 {
			t.Errorf("the object holds %d, %v after refused transactions; want 0", v, err)
		}
		if _, err := tx.Root("home"); !errors.Is(err, oss.ErrNotFound) {
			t.Errorf("root bound to the nil ID: %v, want ErrNotFound", err)
		}
		if _, err := (oss.Ref[int64]{}).Get(tx); !errors.Is(err, oss.ErrNotFound) {
			t.Errorf("Get of a zero Ref: %v, want ErrNotFound", err)
		}
		if _, err := tx.Root(""); !errors.Is(err, oss.ErrNotFound) {
			t.Errorf("Root(\"\"): %v, want ErrNotFound", err)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// A node alone, off any network, has no replicas to hand over and no
// cluster to leave: Close with an ended context closes it and reports no
// hand-over cut short (a deferred Close(ctx) of a request's ended context).
func TestProbeCloseAloneIgnoresEndedContext(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"", t.TempDir()} {
		n, err := oss.Start(context.Background(), &oss.Config{DataDir: dir, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.CreateHeapIfNotExists(context.Background(), "kv", nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("Close of a lone node (data dir %q) with an ended context: %v", dir, err)
		}
		if _, err := n.Heap(context.Background(), "kv"); !errors.Is(err, oss.ErrClosed) {
			t.Errorf("the node is not closed: Heap returned %v", err)
		}
	}
}

// An Update function that commits (or rolls back) the transaction it was
// given gets an error and nothing is written: Update commits it itself,
// and "an error means nothing was written" holds. So does a View's.
func TestProbeCommitInsideUpdateRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, r := probeHeap(t)
	for _, end := range []string{"Commit", "Rollback"} {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			if err := r.Put(tx, 5); err != nil {
				return err
			}
			if end == "Commit" {
				tx.Commit()
			} else {
				tx.Rollback()
			}
			return nil
		})
		if !errors.Is(err, oss.ErrInvalidArgument) {
			t.Errorf("%s inside Update: Update returned %v, want ErrInvalidArgument", end, err)
		}
		err = h.View(ctx, func(tx *oss.Tx) error {
			if v, err := r.Get(tx); err != nil || v != 0 {
				t.Errorf("%s inside Update: the object holds %d, %v; want 0: Update failed, so nothing was written", end, v, err)
			}
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = h.View(ctx, func(tx *oss.Tx) error { return tx.Commit() }, nil)
		if !errors.Is(err, oss.ErrInvalidArgument) {
			t.Errorf("Commit inside View: %v, want ErrInvalidArgument", err)
		}
	}
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Put(tx, 6); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit of a transaction from Begin: %v", err)
	}
}

// Start refuses stripe directories it could not use: one named twice
// (its two stripes' segments would overwrite each other, and the node
// would not start again), an empty one, and any on a node that keeps
// nothing on disk, which would ignore them.
func TestProbeStripeDirsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := t.TempDir()
	s := func(name string) string { return filepath.Join(d, name) }
	for _, cfg := range []oss.Config{
		{DataDir: s("twice"), StripeDirs: []string{s("a"), s("a") + "/"}},
		{DataDir: s("twice2"), StripeDirs: []string{s("b"), s("c"), s("x/../b")}},
		{DataDir: s("empty"), StripeDirs: []string{"", s("d")}},
		{StripeDirs: []string{s("e")}},
		{DataDir: s("memory"), Durability: oss.DurabilityMemory, StripeDirs: []string{s("f")}},
	} {
		cfg.Logger = quietLogger()
		n, err := oss.Start(ctx, &cfg)
		if err == nil {
			n.Close(ctx)
			t.Errorf("DataDir %q, %v, StripeDirs %q: started", cfg.DataDir, cfg.Durability, cfg.StripeDirs)
		}
	}
	cfg := oss.Config{DataDir: s("ok"), StripeDirs: []string{s("g"), s("h")}, Logger: quietLogger()}
	n, err := oss.Start(ctx, &cfg)
	if err != nil {
		t.Fatalf("two stripe directories: %v", err)
	}
	n.Close(ctx)
}

// Two nodes given one stripe directory would write over each other's
// segments and manifest: the second is refused while the first runs, as
// for a data directory, and starts once the first has closed. A stripe
// directory that is another node's data directory is refused too.
func TestStripeDirsAreLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := t.TempDir()
	s := func(name string) string { return filepath.Join(d, name) }
	first, err := oss.Start(ctx, &oss.Config{DataDir: s("one"), StripeDirs: []string{s("shared"), s("own1")}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []oss.Config{
		{DataDir: s("two"), StripeDirs: []string{s("own2"), s("shared")}},
		{DataDir: s("three"), StripeDirs: []string{s("one")}},
	} {
		cfg.Logger = quietLogger()
		n, err := oss.Start(ctx, &cfg)
		if err == nil {
			n.Close(ctx)
			t.Fatalf("StripeDirs %q, one of which the running node holds: started", cfg.StripeDirs)
		}
		if !strings.Contains(err.Error(), "in use by another process or node") {
			t.Errorf("StripeDirs %q: %v; want it to say the directory is in use", cfg.StripeDirs, err)
		}
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := oss.Start(ctx, &oss.Config{DataDir: s("two"), StripeDirs: []string{s("own2"), s("shared")}, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("after the first node closed: %v", err)
	}
	second.Close(ctx)
}
