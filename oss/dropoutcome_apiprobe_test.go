package oss_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// dropOp is one commit of the drop probe and what it was told.
type dropOp struct {
	id   uuid.UUID
	node string
	err  error
}

// dropWatch is what a watch on one node saw of the heap until it closed:
// the objects its change events named, and the states of its resyncs.
type dropWatch struct {
	seen    map[uuid.UUID]bool
	resyncs []*oss.Event
}

// A heap dropped while every node commits to it, with contexts that end
// at random moments: a commit told it failed (anything but nil or an
// error matching ErrCommitUnknown) was never applied by any replica, as
// the replicas' watches saw them until each closed; one told it
// committed was applied by its node's replica; and every writer ends,
// with its node's replica closed. A replica applies what its group
// committed until its catalog applies the drop, so this holds across the
// drop or not at all.
func TestAPIProbeDropHeapUnderCommitsKeepsOutcomes(t *testing.T) {
	t.Parallel()
	c, _ := probeCluster(t)
	seed := rand.Uint64() % 1_000_000
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0))
	names := []string{"n1", "n2", "n3"}
	watches := map[string]*dropWatch{}
	var wwg sync.WaitGroup
	for _, name := range names {
		w, err := c.Heap(name, "kv").Watch(&oss.WatchOptions{Buffer: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		dw := &dropWatch{seen: map[uuid.UUID]bool{}}
		watches[name] = dw
		wwg.Go(func() {
			defer w.Close()
			for {
				ev, err := w.Next(context.Background())
				if err != nil {
					return // closed with its replica
				}
				switch ev.Kind {
				case oss.EventChange:
					for _, ch := range ev.Objects {
						dw.seen[ch.ID] = true
					}
				case oss.EventResync:
					dw.resyncs = append(dw.resyncs, ev)
				}
			}
		})
	}
	var mu sync.Mutex
	var ops []dropOp
	var wg sync.WaitGroup
	for i := range 6 {
		name := names[i%3]
		h := c.Heap(name, "kv")
		wrng := rand.New(rand.NewPCG(seed, uint64(i)+1))
		wg.Go(func() {
			for {
				id := uuid.New()
				ctx, cancel := dropContext(wrng)
				err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, 1) })
				cancel()
				mu.Lock()
				ops = append(ops, dropOp{id: id, node: name, err: err})
				mu.Unlock()
				if errors.Is(err, oss.ErrClosed) && h.Stats().Closed {
					return
				}
			}
		})
	}
	time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Node(names[rng.IntN(3)]).DropHeap(ctx, "kv"); err != nil {
		t.Fatalf("DropHeap: %v", err)
	}
	wg.Wait()
	wwg.Wait()
	checkDropOutcomes(t, ops, watches)
}

// dropContext is a commit's context: ended before, ending within a
// commit's time, or generous.
func dropContext(rng *rand.Rand) (context.Context, context.CancelFunc) {
	switch x := rng.IntN(10); {
	case x == 0:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	case x < 6:
		return context.WithTimeout(context.Background(), time.Duration(rng.IntN(3000))*time.Microsecond)
	case x < 8:
		return context.WithTimeout(context.Background(), time.Duration(rng.IntN(30))*time.Millisecond)
	}
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// checkDropOutcomes holds what the commits were told against what the
// watches saw.
func checkDropOutcomes(t *testing.T, ops []dropOp, watches map[string]*dropWatch) {
	t.Helper()
	var ok, failed, unknown int
	for _, op := range ops {
		switch {
		case op.err == nil:
			ok++
			if dw := watches[op.node]; !dw.seen[op.id] && !inResync(t, dw.resyncs, op.id) {
				t.Errorf("%s's commit of %v returned nil, and its replica's watch never saw it", op.node, op.id)
			}
			continue
		case errors.Is(op.err, oss.ErrCommitUnknown):
			unknown++
			continue
		}
		failed++
		for name, dw := range watches {
			if dw.seen[op.id] || inResync(t, dw.resyncs, op.id) {
				t.Errorf("%s's commit of %v failed (%v), and %s's replica applied it", op.node, op.id, op.err, name)
			}
		}
	}
	t.Logf("%d commits: %d committed, %d failed, %d unknown", len(ops), ok, failed, unknown)
	if ok == 0 {
		t.Errorf("no commit committed before the drop: the probe did not test what it says")
	}
}

// inResync reports whether the state of one of the resyncs holds id.
func inResync(t *testing.T, resyncs []*oss.Event, id uuid.UUID) bool {
	for _, ev := range resyncs {
		err := ev.View(func(tx *oss.Tx) error {
			_, err := oss.Get[int](tx, id)
			return err
		})
		switch {
		case err == nil:
			return true
		case !errors.Is(err, oss.ErrNotFound):
			t.Fatalf("reading a resync's state: %v", err)
		}
	}
	return false
}
