package oss

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
)

// TestWideLoserHoldsEveryKeyItRead: an Update that reads ten hot keys
// (and writes one of them, or none) while another client writes, during
// each of its runs, a key of the ten it did not lose on last. It used to
// hold the gate of the key it lost on only, so every run lost, on another
// key, and the Update failed with ErrConflict after MaxRetries. A loser
// now holds the gates of every key it read: the writer that read a key
// after the loss waits for its gate, and the Update runs twice (its first
// run, lost to the writer that wrote before any gate existed, and one
// that commits). The function waits for the writer to queue for the gate,
// though, and at load that can take longer than its patience (at least
// patienceFloor; fair.go): then the writer goes on without the gate, as
// the design lets it, and may win once more. So the bound asserted is 2
// runs plus one for each run in which the writer committed while the
// Update held its gates (bypasses, counted by the function; none in most
// runs, 3 runs were seen at load).
func TestWideLoserHoldsEveryKeyItRead(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, writes := range []bool{true, false} {
		t.Run(map[bool]string{true: "writes-one", false: "read-only"}[writes], func(t *testing.T) {
			c := newQUICClusterTick(t, 100*time.Millisecond, "a")
			h := c.openEverywhere("wide")["a"]
			ids := hotKeys(t, h, 10)
			runs, bypasses, err := wideAgainstWriter(t, h, ids, writes)
			if err != nil {
				t.Fatalf("the wide Update, after %d runs: %v", runs, err)
			}
			t.Logf("%d runs, %d bypasses", runs, bypasses)
			if runs > 2+bypasses {
				t.Errorf("the wide Update ran %d times with %d bypasses of its gates, want at most %d", runs, bypasses, 2+bypasses)
			}
		})
	}
}

// wideAgainstWriter runs an Update that reads every one of ids, and
// increments ids[0] if writes, while a writer increments, during its run
// r, ids[1+(r-1)%9]: the run goes on once the writer's Update has
// committed, or waits for a gate of h. It returns the runs, the runs
// after the first in which the writer committed (it went on without the
// gate the Update held, after its patience), and the Update's error.
func wideAgainstWriter(t *testing.T, h *Heap, ids []uuid.UUID, writes bool) (int, int, error) {
	ctx := context.Background()
	todo, done := make(chan uuid.UUID), make(chan error, 1)
	defer close(todo)
	go func() {
		for id := range todo {
			done <- h.Update(ctx, func(tx *Tx) error {
				v, err := Get[int64](tx, id)
				if err != nil {
					return err
				}
				return Put(tx, id, v+1)
			})
		}
	}()
	pending := false // the writer has not answered
	var id uuid.UUID // what it writes
	runs, bypasses := 0, 0
	err := h.Update(ctx, func(tx *Tx) error {
		runs++
		var first int64
		for i, id := range ids {
			v, err := Get[int64](tx, id)
			if err != nil {
				return err
			}
			if i == 0 {
				first = v
			}
		}
		if !pending { // else it still waits for a gate, or answers
			id = ids[1+(runs-1)%9]
			todo <- id
			pending = true
		}
		for pending && gateWaiters(h, id) == 0 {
			select {
			case err := <-done:
				if err != nil {
					return err
				}
				pending = false
				if runs > 1 {
					bypasses++
				}
			case <-time.After(time.Millisecond):
			}
		}
		if !writes {
			return nil
		}
		return Put(tx, ids[0], first+1)
	})
	if pending {
		if werr := <-done; werr != nil {
			t.Errorf("the writer: %v", werr)
		}
	}
	return runs, bypasses, err
}

// gateWaiters returns how many transactions wait for the gate of id on h.
func gateWaiters(h *Heap, id uuid.UUID) int {
	h.gates.mu.Lock()
	defer h.gates.mu.Unlock()
	if g := h.gates.m[hotKey{id: id}]; g != nil {
		return len(g.waiters)
	}
	return 0
}
