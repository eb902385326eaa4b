package oss_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Probes of Close called from inside the library's own callbacks: an
// Update's function, an OnCommit function, a View's function, a Watch's
// consumer, the function of an Update on another heap. Each must return
// (an error if it cannot close from there), never hang; a hang fails the
// test at await.Deadline with every goroutine's stack.

// within runs f on a goroutine of its own and waits for it, up to
// await.Deadline; if f does not return, it fails the test with a dump of
// every goroutine, which names where the call hangs.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(await.Deadline)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("waited %v for %s; goroutines:\n%s", await.Deadline, what, buf)
	}
}

// closeCases are the places Close is called from, each given a node, a
// heap on it and an object in the heap.
var closeCases = []struct {
	name string
	run  func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error)
}{
	{"Update function", func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error) {
		callErr = h.Update(context.Background(), func(tx *oss.Tx) error {
			if _, err := oss.Get[counter](tx, id); err != nil {
				return err
			}
			if closeErr == nil {
				closeErr = n.Close(context.Background())
			}
			return oss.Put(tx, id, counter{N: 5})
		})
		return closeErr, callErr
	}},
	{"OnCommit function", func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error) {
		callErr = h.Update(context.Background(), func(tx *oss.Tx) error {
			tx.OnCommit(func() { closeErr = n.Close(context.Background()) })
			return oss.Put(tx, id, counter{N: 5})
		})
		return closeErr, callErr
	}},
	{"View function", func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error) {
		callErr = h.View(context.Background(), func(tx *oss.Tx) error {
			closeErr = n.Close(context.Background())
			_, err := oss.Get[counter](tx, id)
			return err
		}, nil)
		return closeErr, callErr
	}},
	{"Fresh View function", func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error) {
		callErr = h.View(context.Background(), func(tx *oss.Tx) error {
			closeErr = n.Close(context.Background())
			_, err := oss.Get[counter](tx, id)
			return err
		}, &oss.ViewOptions{Fresh: true})
		return closeErr, callErr
	}},
	{"Watch consumer", func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error) {
		w, err := h.Watch(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ev, err := w.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		closeErr = n.Close(context.Background())
		callErr = ev.View(func(tx *oss.Tx) error {
			_, err := oss.Get[counter](tx, id)
			return err
		})
		t.Logf("Event.View after Close: %v", callErr)
		_, callErr = w.Next(context.Background())
		return closeErr, callErr
	}},
	{"Update function on another heap", func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error) {
		other, err := n.CreateHeap(context.Background(), "other", nil)
		if err != nil {
			t.Fatal(err)
		}
		callErr = other.Update(context.Background(), func(tx *oss.Tx) error {
			return h.Update(context.Background(), func(tx2 *oss.Tx) error {
				if closeErr == nil {
					closeErr = n.Close(context.Background())
				}
				return oss.Put(tx2, id, counter{N: 5})
			})
		})
		return closeErr, callErr
	}},
	{"transaction from Begin", func(t *testing.T, n *oss.Node, h *oss.Heap, id uuid.UUID) (closeErr, callErr error) {
		tx, err := h.Begin(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oss.Get[counter](tx, id); err != nil {
			t.Fatal(err)
		}
		closeErr = n.Close(context.Background())
		if _, err := oss.Get[counter](tx, id); err != nil {
			t.Logf("Get after Close: %v", err)
		}
		if err := oss.Put(tx, id, counter{N: 5}); err != nil {
			t.Logf("Put after Close: %v", err)
		}
		callErr = tx.Commit()
		if err := tx.Rollback(); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("Rollback after Commit: %v, want ErrTxDone", err)
		}
		return closeErr, callErr
	}},
}

// TestCloseFromInsideCallbacks: on a lone node, in memory and on disk.
func TestCloseFromInsideCallbacks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, durable := range []bool{false, true} {
		for _, c := range closeCases {
			name := c.name
			if durable {
				name += " durable"
			}
			t.Run(name, func(t *testing.T) {
				cfg := &oss.Config{}
				if durable {
					cfg.DataDir = t.TempDir()
				}
				n, h := openHeap(t, cfg)
				id := create(t, h, counter{N: 1})
				var closeErr, callErr error
				within(t, "Close called from the "+c.name, func() { closeErr, callErr = c.run(t, n, h, id) })
				closedFrom(t, c.name, n, closeErr, callErr)
				if _, err := n.Heap(context.Background(), "test"); !errors.Is(err, oss.ErrClosed) {
					t.Errorf("Heap after Close: %v, want ErrClosed", err)
				}
				if durable {
					wrote := callErr == nil && !strings.Contains(c.name, "View") && !strings.Contains(c.name, "Watch")
					reopenHolds(t, cfg.DataDir, id, wrote)
				}
			})
		}
	}
}

// closedFrom checks that a Close called from the callback named where
// returned nil and closed the node.
func closedFrom(t *testing.T, where string, n *oss.Node, closeErr, callErr error) {
	t.Helper()
	t.Logf("Close: %v; the call: %v", closeErr, callErr)
	if closeErr != nil {
		t.Errorf("Close from the %s: %v", where, closeErr)
	}
	if n.Context().Err() == nil {
		t.Errorf("node not closed after Close from the %s", where)
	}
}

// reopenHolds starts a node on dir again and checks that the object
// holds 5 if a call acknowledged writing it.
func reopenHolds(t *testing.T, dir string, id uuid.UUID, wrote bool) {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{DataDir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer n.Close(ctx)
	h, err := n.Heap(ctx, "test")
	if err != nil {
		t.Fatalf("reopen heap: %v", err)
	}
	c, err := read(t, h, id)
	if err != nil {
		t.Fatalf("reopened: %v", err)
	}
	if wrote && c.N != 5 {
		t.Errorf("reopened: object holds %d, want the 5 acknowledged", c.N)
	}
	t.Logf("reopened: object holds %d", c.N)
}

// TestCloseFromInsideCallbacksOfALeader: the same, on the leader of a
// heap of three voters, whose Close hands the heap over first.
func TestCloseFromInsideCallbacksOfALeader(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, c := range closeCases {
		t.Run(c.name, func(t *testing.T) {
			cl := osstest.Start(t, 3, &osstest.Options{Durable: true})
			for _, name := range []string{"n1", "n2", "n3"} {
				cl.Heap(name, "test")
			}
			leader := cl.WaitLeader("test")
			h := cl.Heap(leader, "test")
			id := create(t, h, counter{N: 1})
			n := cl.Node(leader)
			var closeErr, callErr error
			within(t, "Close called from the "+c.name, func() { closeErr, callErr = c.run(t, n, h, id) })
			closedFrom(t, c.name, n, closeErr, callErr)
		})
	}
}
