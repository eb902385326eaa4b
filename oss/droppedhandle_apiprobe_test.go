package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A handle kept on a heap dropped (and created again under its name) ends
// every call with ErrClosed, saying that the heap was dropped and how to
// open the new one, where "closed" alone spoke of a close the application
// never made on a node that runs on.
func TestAPIProbeDroppedHandleSaysDropped(t *testing.T) {
	n, h, r := probeHeap(t)
	ctx := context.Background()
	if err := n.DropHeap(ctx, h.Name()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateHeap(ctx, h.Name(), nil); err != nil {
		t.Fatal(err)
	}
	_, werr := h.Watch(nil)
	_, berr := h.Begin(ctx, nil)
	for what, err := range map[string]error{
		"Update": h.Update(ctx, func(tx *oss.Tx) error { return r.Put(tx, 1) }),
		"View":   h.View(ctx, func(tx *oss.Tx) error { return nil }, nil),
		"Watch":  werr,
		"Begin":  berr,
	} {
		if !errors.Is(err, oss.ErrClosed) || !strings.Contains(err.Error(), "was dropped") {
			t.Errorf("%s on the dropped heap's handle: %v; want ErrClosed saying it was dropped", what, err)
		}
	}
}
