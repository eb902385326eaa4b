package oss

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
)

// The calls on a handle opened before its replica was lost, on a node that
// runs on, say that the replica was lost and what to do, as Node.Heap
// does, while still matching ErrClosed (nothing was written). They said
// only "oss: closed", of a heap nobody had closed.
func TestHandleOfALostReplicaSaysItWasLost(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n, err := Start(context.Background(), &Config{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := n.CreateHeap(ctx, "h", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if !loseCatalog(h) {
		t.Fatal("the heap's replica was not lost")
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "was lost") ||
			!strings.Contains(err.Error(), "move the data directory aside") {
			t.Errorf("%s on a handle whose replica was lost: %v; want ErrClosed with the loss (ErrCorrupt, saying what to do)", what, err)
		}
	}
	check("Update", h.Update(ctx, func(tx *Tx) error { return Put(tx, uuid.New(), 1) }))
	check("View", h.View(ctx, func(tx *Tx) error { return nil }, nil))
	_, err = h.Begin(ctx, nil)
	check("Begin", err)
	_, err = h.Watch(nil)
	check("Watch", err)
	_, err = w.Next(ctx)
	check("Watch.Next", err)
	check("Watch.SetInterest", w.SetInterest(nil, nil))
	if err := n.Damage(); err != nil {
		t.Fatalf("a lost replica of a heap damaged the node: %v", err)
	}
}
