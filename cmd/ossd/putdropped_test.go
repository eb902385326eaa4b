package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// dropFirst is a value on stdin that the heap is dropped before it can be
// read: a heap dropped while "ossd put" runs.
type dropFirst struct {
	t       *testing.T
	n       *oss.Node
	heap    string
	dropped bool
	value   io.Reader
}

func (d *dropFirst) Read(p []byte) (int, error) {
	if !d.dropped {
		d.dropped = true
		if err := d.n.DropHeap(context.Background(), d.heap); err != nil {
			d.t.Errorf("drop %s: %v", d.heap, err)
		}
	}
	return d.value.Read(p)
}

// "ossd put" creates a heap that did not exist when it began, and only
// such a heap: one dropped while the put runs stays dropped, and the put
// says so. Before, the put created the dropped heap again, holding its
// one root, undoing part of someone's drop.
func TestPutDoesNotRecreateAHeapDroppedMeanwhile(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	flags := []string{"--http", srv.Addr(), "--http-insecure"}

	if _, err := n.CreateHeap(ctx, "h", nil); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	stdin := &dropFirst{t: t, n: n, heap: "h", value: strings.NewReader(`{"a": 1}`)}
	err = putFrom(stdin, &out, append([]string{"h", "r", "-"}, flags...))
	if err == nil || !errors.Is(err, oss.ErrNoHeap) || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("put on a heap dropped while it ran: %v (printed %q); want an error saying it was dropped", err, out.String())
	}
	if _, err := n.Heap(ctx, "h"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the dropped heap after the put: %v; want ErrNoHeap (not created again)", err)
	}

	// A heap missing when the put begins is created, as before.
	if err := putFrom(strings.NewReader(""), &out, append([]string{"h", "r", "2"}, flags...)); err != nil {
		t.Fatalf("put on a missing heap: %v", err)
	}
	if _, err := n.Heap(ctx, "h"); err != nil {
		t.Fatalf("the heap a put created: %v", err)
	}
}
