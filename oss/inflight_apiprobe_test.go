package oss_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// inflight are calls on one node's heap left waiting: an Update waiting
// for a change (ErrRetry), a Watch's Next past the events it held, and a
// transaction from Begin not yet ended. Each reports its end on its
// channel.
type inflight struct {
	update chan error
	next   chan error
	tx     *oss.Tx
	w      *oss.Watch
}

// startInflight starts the calls on h, which holds the object r, and
// returns once the Update waits and the Watch has taken its snapshot.
func startInflight(t *testing.T, h *oss.Heap, r oss.Ref[int64]) *inflight {
	t.Helper()
	ctx := context.Background()
	f := &inflight{update: make(chan error, 1), next: make(chan error, 1)}
	waits := h.Stats().Waits
	go func() {
		f.update <- h.Update(ctx, func(tx *oss.Tx) error {
			if _, err := r.Get(tx); err != nil {
				return err
			}
			return tx.Retry() // nothing changes r: it waits for ever
		})
	}()
	w, err := h.Watch(&oss.WatchOptions{IDs: []uuid.UUID{uuid.New()}})
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	if ev, err := w.Next(ctx); err != nil || ev.Kind != oss.EventSnapshot {
		t.Fatalf("first event %v, %v; want a snapshot", ev, err)
	}
	go func() {
		_, err := w.Next(ctx)
		f.next <- err
	}()
	if f.tx, err = h.Begin(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(f.tx); err != nil {
		t.Fatal(err)
	}
	if err := r.Put(f.tx, 99); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(await.Deadline)
	for h.Stats().Waits == waits {
		if time.Now().After(deadline) {
			t.Fatal("the Update never waited")
		}
		time.Sleep(time.Millisecond)
	}
	return f
}

// check checks that every call ended with ErrClosed, and that the
// handle refuses new ones with it.
func (f *inflight) check(t *testing.T, what string, h *oss.Heap) {
	t.Helper()
	ctx := context.Background()
	for name, c := range map[string]chan error{"waiting Update": f.update, "Watch.Next": f.next} {
		if err := await.Recv(t, c, "the call to end with the close"); !errors.Is(err, oss.ErrClosed) {
			t.Errorf("%s: %s returned %v, want ErrClosed", what, name, err)
		}
	}
	if err := f.tx.Commit(); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("%s: Commit of a transaction begun before returned %v, want ErrClosed", what, err)
	}
	if err := f.w.Close(); err != nil {
		t.Errorf("%s: Watch.Close: %v", what, err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return nil }); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("%s: a later Update returned %v, want ErrClosed", what, err)
	}
	if err := h.View(ctx, func(tx *oss.Tx) error { return nil }, nil); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("%s: a later View returned %v, want ErrClosed", what, err)
	}
	if err := h.View(ctx, func(tx *oss.Tx) error { return nil }, &oss.ViewOptions{Fresh: true}); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("%s: a later Fresh View returned %v, want ErrClosed", what, err)
	}
	if _, err := h.Begin(ctx, nil); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("%s: a later Begin returned %v, want ErrClosed", what, err)
	}
}

// probeCluster starts three nodes with the heap "kv" open on each and an
// object in it. The tests on it run in parallel: the package's TestMain
// checks, after them all, that no goroutine is left.
func probeCluster(t *testing.T) (*osstest.Cluster, oss.Ref[int64]) {
	c := osstest.Start(t, 3, &osstest.Options{Configure: func(_ string, cfg *oss.Config) { cfg.Logger = quietLogger() }})
	var r oss.Ref[int64]
	err := c.Heap("n1", "kv").Update(context.Background(), func(tx *oss.Tx) (err error) {
		r, err = oss.New(tx, int64(0))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Heap("n2", "kv")
	c.Heap("n3", "kv")
	c.WaitApplied("kv", c.Heap("n1", "kv").Stats().Applied)
	return c, r
}

// Close of a node ends the calls in flight on its heaps with ErrClosed: an
// Update waiting for a change, a Watch's Next, the Commit of a
// transaction begun before; later calls on its handles return ErrClosed.
func TestAPIProbeNodeCloseEndsCallsInFlight(t *testing.T) {
	t.Parallel()
	c, r := probeCluster(t)
	h := c.Heap("n2", "kv")
	f := startInflight(t, h, r)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Node("n2").Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	f.check(t, "node closed", h)
}

// DropHeap on one node ends the calls in flight on the heap on the
// others with ErrClosed; the name is then unknown (ErrNoHeap), and a heap
// created again under it is another incarnation, which a watch resumed
// from the old one's index gets a resync of.
func TestAPIProbeDropHeapEndsCallsOnOtherNodes(t *testing.T) {
	t.Parallel()
	c, r := probeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h2, h3 := c.Heap("n2", "kv"), c.Heap("n3", "kv")
	old := h3.Stats()
	f2, f3 := startInflight(t, h2, r), startInflight(t, h3, r)
	// Writers on n3 run on through the drop: each Update ends committed,
	// closed or unknown, never with another error.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			for {
				err := h3.Update(ctx, func(tx *oss.Tx) error {
					_, err := oss.New(tx, fmt.Sprint("writer ", i))
					return err
				})
				switch {
				case err == nil:
					continue
				case errors.Is(err, oss.ErrClosed) || errors.Is(err, oss.ErrCommitUnknown):
				default:
					errs <- err
				}
				return
			}
		})
	}
	if err := c.Node("n1").DropHeap(ctx, "kv"); err != nil {
		t.Fatalf("DropHeap: %v", err)
	}
	f2.check(t, "dropped on n1, seen on n2", h2)
	f3.check(t, "dropped on n1, seen on n3", h3)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("an Update running through the drop returned %v, want nil, ErrClosed or ErrCommitUnknown", err)
	}
	if _, err := c.Node("n2").Heap(ctx, "kv"); !errors.Is(err, oss.ErrNoHeap) {
		t.Errorf("Heap of the dropped name: %v, want ErrNoHeap", err)
	}
	h, err := c.Node("n3").CreateHeap(ctx, "kv", nil)
	if err != nil {
		t.Fatalf("CreateHeap of the dropped name: %v", err)
	}
	if h == h3 || h.Stats().Incarnation == old.Incarnation {
		t.Errorf("the heap created again is the old handle or incarnation (%d)", old.Incarnation)
	}
	w, err := h.Watch(&oss.WatchOptions{From: old.Applied, Incarnation: old.Incarnation})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev, err := w.Next(ctx); err != nil || ev.Kind != oss.EventResync {
		t.Errorf("a watch resumed from the old incarnation: %v, %v; want a resync", ev, err)
	}
}

// Close of a node cut off from its peers ends the calls that wait for
// the catalog's leader for as long as their ctx lets them (a background
// one): an open of a heap the node does not know, and a creation. They
// return ErrClosed (a creation whose try's outcome was unknown, that
// outcome).
func TestAPIProbeCloseOfCutOffNodeEndsWaits(t *testing.T) {
	t.Parallel()
	c, _ := probeCluster(t)
	// A voter of a catalog of three that does not lead it: the others
	// keep the catalog's quorum, and it has none.
	cut := cutCatalogVoter(c)
	n := c.Node(cut)
	defer c.Heal()
	bg := context.Background()
	calls := map[string]func() error{
		"Heap": func() error { _, err := n.Heap(bg, "elsewhere"); return err },
		"CreateHeap": func() error {
			_, err := n.CreateHeap(bg, "new", nil)
			return err
		},
	}
	ended := make(chan string, len(calls))
	errs := make(map[string]error)
	var mu sync.Mutex
	for name, call := range calls {
		go func() {
			err := call()
			mu.Lock()
			errs[name] = err
			mu.Unlock()
			ended <- name
		}()
	}
	ctx, cancel := context.WithTimeout(bg, time.Second)
	defer cancel()
	n.Close(ctx)
	for range calls {
		await.Recv(t, ended, "every call to end with the close")
	}
	for name, err := range errs {
		// A creation proposed as the cut began keeps its unknown outcome.
		if !errors.Is(err, oss.ErrClosed) && !(name == "CreateHeap" && errors.Is(err, oss.ErrCommitUnknown)) {
			t.Errorf("%s waiting on the node closed: %v; want ErrClosed", name, err)
		}
	}
}
