package oss

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Opening a heap whose replica on the node was lost (its log lost what
// it acknowledged, or it could not apply what its leader sent) fails with
// the loss, an error matching ErrCorrupt that says what to do. The lost
// replica stays in the node's table until the node is rebuilt, and Heap
// and CreateHeapIfNotExists found it there and returned it as open: a
// handle whose every call then said "closed", on a node that was not.
func TestOpenOfALostReplicaSaysItWasLost(t *testing.T) {
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
	if !loseCatalog(h) {
		t.Fatal("the heap's replica was not lost")
	}
	for _, open := range []struct {
		what string
		call func() (*Heap, error)
	}{
		{"Heap", func() (*Heap, error) { return n.Heap(ctx, "h") }},
		{"CreateHeapIfNotExists", func() (*Heap, error) { return n.CreateHeapIfNotExists(ctx, "h", nil) }},
	} {
		got, err := open.call()
		if err == nil {
			t.Fatalf("%s of a heap whose replica was lost returned it as open (closed: %v)", open.what, got.isClosed())
		}
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "move the data directory aside") {
			t.Fatalf("%s of a heap whose replica was lost: %v; want the loss (ErrCorrupt, saying what to do)", open.what, err)
		}
	}
	if err := n.Damage(); err != nil {
		t.Fatalf("a lost replica of a heap damaged the node: %v", err)
	}
}
