package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
)

// Close of a node, and DropHeap of a heap, do not wait for Update and View
// functions that are running: a function that waits for the close to
// return does not deadlock it. Once the function returns, its Update
// ends with ErrClosed and writes nothing, and its View with fn's result.
func TestAPIProbeCloseWhileFunctionsRun(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"Close", "DropHeap"} {
		c, r := probeCluster(t)
		h := c.Heap("n2", "kv")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		closed := make(chan struct{})
		inside := make(chan struct{}, 2)
		update, view := make(chan error, 1), make(chan error, 1)
		go func() {
			update <- h.Update(ctx, func(tx *oss.Tx) error {
				if err := r.Put(tx, 8); err != nil {
					return err
				}
				inside <- struct{}{}
				<-closed
				return nil
			})
		}()
		go func() {
			view <- h.View(ctx, func(tx *oss.Tx) error {
				inside <- struct{}{}
				<-closed
				_, err := r.Get(tx)
				return err
			}, nil)
		}()
		await.Recv(t, inside, "the Update's and the View's functions to run")
		await.Recv(t, inside, "the Update's and the View's functions to run")
		var err error
		if end == "Close" {
			err = c.Node("n2").Close(ctx)
		} else {
			err = c.Node("n1").DropHeap(ctx, "kv")
			c.Wait("n2's replica closed", func() bool {
				return errors.Is(h.View(ctx, func(*oss.Tx) error { return nil }, nil), oss.ErrClosed)
			})
		}
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		close(closed)
		if err := await.Recv(t, update, "the Update whose function ran through the close to return"); !errors.Is(err, oss.ErrClosed) {
			t.Errorf("%s: an Update whose function ran through it: %v, want ErrClosed", end, err)
		}
		if err := await.Recv(t, view, "the View whose function ran through the close to return"); err != nil {
			t.Errorf("%s: a View whose function ran through it: %v, want its snapshot read", end, err)
		}
		if end == "Close" {
			c.Heap("n1", "kv").View(ctx, func(tx *oss.Tx) error {
				if v, err := r.Get(tx); v != 0 || err != nil {
					t.Errorf("the object holds %d, %v; want 0", v, err)
				}
				return nil
			}, nil)
		}
		c.Close()
	}
}
