package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A node that dropped a heap and crashed at once restarts with a catalog
// replica behind the drop (the commit index it had on disk came before
// it): an open of the name at once found the dropped heap's entry,
// opened a replica of it, and returned ErrClosed when the catalog replica,
// catching up, closed that replica as dropped. Heap now returns ErrNoHeap
// and CreateHeapIfNotExists creates the heap anew.
func TestProbeHeapDroppedByANodeThatCrashedOpensAsTheCatalogSays(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Configure: func(_ string, cfg *oss.Config) {
		cfg.Logger = quietLogger()
		cfg.ReplaceAfter = time.Hour
	}})
	x := uuid.New()
	for round := range 6 {
		h := c.Heap("n1", "h")
		if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, x, round) }); err != nil {
			t.Fatal(err)
		}
		if err := c.Node("n1").DropHeap(ctx, "h"); err != nil {
			t.Fatal(err)
		}
		c.Kill("n1")
		n1 := c.Restart("n1")
		if round%2 == 0 {
			if _, err := n1.Heap(ctx, "h"); !errors.Is(err, oss.ErrNoHeap) || errors.Is(err, oss.ErrClosed) {
				t.Fatalf("round %d: Heap of the heap n1 dropped before it crashed: %v, want ErrNoHeap", round, err)
			}
			continue
		}
		h, err := n1.CreateHeapIfNotExists(ctx, "h", nil)
		if err != nil {
			t.Fatalf("round %d: CreateHeapIfNotExists of the heap n1 dropped before it crashed: %v", round, err)
		}
		err = h.View(ctx, func(tx *oss.Tx) error {
			if ok, err := tx.Exists(x); err != nil || ok {
				t.Errorf("round %d: the new heap holds the dropped one's object (%v, %v)", round, ok, err)
			}
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
}
