package oss_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// loseOn makes one transaction of operation op lose a conflict on id: it
// reads id (and cold, if not nil), another commit writes id first, and
// then it commits.
func loseOn(t *testing.T, h *oss.Heap, op string, id uuid.UUID, cold *uuid.UUID) {
	t.Helper()
	ctx := oss.WithOperation(context.Background(), op)
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cold != nil {
		if _, err := oss.Get[counter](tx, *cold); err != nil {
			t.Fatal(err)
		}
	}
	c, err := oss.Get[counter](tx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(context.Background(), func(tx *oss.Tx) error {
		c, err := oss.Get[counter](tx, id)
		if err != nil {
			return err
		}
		c.N++
		return oss.Put(tx, id, c)
	}); err != nil {
		t.Fatal(err)
	}
	c.N += 1000
	if err := oss.Put(tx, id, c); err != nil {
		t.Fatal(err)
	}
	err = tx.Commit()
	var ce *oss.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, oss.ErrConflict) || ce.ID != id {
		t.Fatalf("commit after a stale read of %v: %v", id, err)
	}
}

// TestHotObjectFirst makes transactions conflict on one hot object among
// many cold ones: Hot lists the hot one first, with a count near the
// number of its conflicts, the transaction that lost last, its node and
// its operation; and a conflict error says how hot its object is.
func TestHotObjectFirst(t *testing.T) {
	_, h := openHeap(t, nil)
	if got := h.Hot(); len(got) != 0 {
		t.Fatalf("Hot of a heap without conflicts: %v", got)
	}
	hot := create(t, h, counter{0})
	var colds []uuid.UUID
	for range 100 {
		colds = append(colds, create(t, h, counter{0}))
	}
	const hotConflicts = 40
	// The counts decay, halving every HotHalfLife: decayed returns the
	// least that n conflicts since start count for now. On a loaded
	// machine the conflicts take seconds, enough for 40 to decay below
	// 39.
	start := time.Now()
	decayed := func(n float64) float64 {
		return n * math.Exp2(-time.Since(start).Seconds()/oss.HotHalfLife.Seconds())
	}
	// Cold conflicts, one each on 60 cold objects (more than the table
	// holds), interleaved with the hot object's.
	for i := range hotConflicts + 60 {
		if i%5 < 2 {
			loseOn(t, h, "hot-op", hot, &colds[i])
		} else {
			loseOn(t, h, "cold-op", colds[i], nil)
		}
	}
	got := h.Hot()
	if len(got) == 0 || len(got) > 32 {
		t.Fatalf("Hot returned %d rows", len(got))
	}
	top := got[0]
	if top.ID != hot || top.Root != "" || top.Scan {
		t.Fatalf("hottest is %v, want %v: %+v", top.Name(), hot, got[:min(3, len(got))])
	}
	if top.Conflicts != hotConflicts || top.Lately > hotConflicts+1 || top.Lately < decayed(hotConflicts)-1 {
		t.Errorf("hot object counted %d conflicts, lately %.2f; want %d, lately at least %.2f", top.Conflicts, top.Lately, hotConflicts, decayed(hotConflicts)-1)
	}
	if top.LastNode != h.Stats().Leader || top.LastNode == "" || top.LastOp != "hot-op" || top.LastTx == uuid.Nil || top.Last.IsZero() {
		t.Errorf("last loser: node %q, op %q, tx %v at %v", top.LastNode, top.LastOp, top.LastTx, top.Last)
	}
	for _, o := range got[1:] {
		if o.Lately > 2 {
			t.Errorf("cold %v has lately %.2f", o.Name(), o.Lately)
		}
	}
	// A conflict says how hot its object has been lately.
	tx, err := h.Begin(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oss.Get[counter](tx, hot); err != nil {
		t.Fatal(err)
	}
	if err := h.Update(context.Background(), func(tx *oss.Tx) error { return oss.Put(tx, hot, counter{-1}) }); err != nil {
		t.Fatal(err)
	}
	if err := oss.Put(tx, hot, counter{-2}); err != nil {
		t.Fatal(err)
	}
	err = tx.Commit()
	var ce *oss.ConflictError
	if !errors.As(err, &ce) || float64(ce.Hot) < math.Floor(decayed(hotConflicts+1))-1 || !strings.Contains(err.Error(), hot.String()) ||
		!strings.Contains(err.Error(), "conflicts on it lately") {
		t.Fatalf("conflict on the hot object: %v (%+v)", err, ce)
	}
}

// TestHotRootsAndScans checks that roots and scans are tracked too.
func TestHotRootsAndScans(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx := context.Background()
	id := create(t, h, counter{0})
	// A root read, changed before the commit.
	tx, _ := h.Begin(ctx, nil)
	if _, err := tx.Root("r"); !errors.Is(err, oss.ErrNotFound) {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return tx.SetRoot("r", id) }); err != nil {
		t.Fatal(err)
	}
	_ = tx.SetRoot("r", uuid.New())
	if err := tx.Commit(); !errors.Is(err, oss.ErrConflict) {
		t.Fatalf("root conflict: %v", err)
	}
	// A scan, invalidated by a creation.
	tx, _ = h.Begin(ctx, nil)
	if err := tx.Scan(func(uuid.UUID) bool { return true }); err != nil {
		t.Fatal(err)
	}
	create(t, h, counter{1})
	if _, err := oss.New(tx, counter{2}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, oss.ErrConflict) {
		t.Fatalf("scan conflict: %v", err)
	}
	var root, scan bool
	for _, o := range h.Hot() {
		root = root || o.Root == "r" && o.Name() == "root r"
		scan = scan || o.Scan && o.Name() == "scan"
	}
	if !root || !scan {
		t.Fatalf("Hot: %+v", h.Hot())
	}
}

// TestHotRetriesExhaustedNamesObject runs Updates that contend on one
// object until they give up: the error names the object, how many
// attempts were made and how hot it has been, and Hot lists it first.
func TestHotRetriesExhaustedNamesObject(t *testing.T) {
	_, h := openHeap(t, &oss.Config{MaxRetries: 5})
	hot := create(t, h, counter{0})
	ctx := context.Background()
	// Each attempt of the Update reads the object, then another commit
	// changes it: every attempt conflicts.
	err := h.Update(ctx, func(tx *oss.Tx) error {
		c, err := oss.Get[counter](tx, hot)
		if err != nil {
			return err
		}
		if err := h.Update(ctx, func(tx2 *oss.Tx) error { return oss.Put(tx2, hot, counter{c.N + 1}) }); err != nil {
			return err
		}
		return oss.Put(tx, hot, counter{c.N + 100})
	})
	var ce *oss.ConflictError
	if !errors.Is(err, oss.ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("Update of a hot object: %v", err)
	}
	msg := err.Error()
	if ce.ID != hot || ce.Attempts != 6 || ce.Hot != 6 || !strings.Contains(msg, hot.String()) ||
		!strings.Contains(msg, "gave up after 6 attempts") || !strings.Contains(msg, "6 conflicts on it lately") {
		t.Fatalf("error %q (%+v)", msg, ce)
	}
	if top := h.Hot(); len(top) == 0 || top[0].ID != hot || top[0].Conflicts != 6 {
		t.Fatalf("Hot: %+v", top)
	}
}

// TestHotContentionConcurrent runs concurrent Updates on one hot counter
// beside private cold ones: the hot one is first, and the table's count
// of it equals the heap's conflicts (every conflict here is on it).
func TestHotContentionConcurrent(t *testing.T) {
	_, h := openHeap(t, &oss.Config{MaxRetries: 1 << 20})
	hot := create(t, h, counter{0})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		cold := create(t, h, counter{0})
		wg.Go(func() {
			for range 50 {
				err := h.Update(ctx, func(tx *oss.Tx) error {
					for _, id := range []uuid.UUID{cold, hot} {
						c, err := oss.Get[counter](tx, id)
						if err != nil {
							return err
						}
						c.N++
						if err := oss.Put(tx, id, c); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	conflicts := h.Stats().Conflicts
	got := h.Hot()
	if conflicts == 0 {
		t.Skip("no conflicts: the updates did not overlap")
	}
	if len(got) != 1 || got[0].ID != hot || got[0].Conflicts != conflicts {
		t.Fatalf("%d conflicts; Hot: %+v", conflicts, got)
	}
}
