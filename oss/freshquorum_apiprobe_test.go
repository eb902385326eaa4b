package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// A cut-off node's Fresh View, Fresh Begin, and the check of an error an
// Update function returned after reading, end when ctx ends with an
// error matching ErrNoQuorum (no leader answered), never with ctx's
// error alone.
func TestAPIProbeFreshReadCutOffIsNoQuorum(t *testing.T) {
	t.Parallel()
	c, r := probeCluster(t)
	calls := []struct {
		name string
		call func(ctx context.Context, h *oss.Heap) error
	}{
		{"Fresh View", func(ctx context.Context, h *oss.Heap) error {
			return h.View(ctx, func(*oss.Tx) error { return nil }, &oss.ViewOptions{Fresh: true})
		}},
		{"Fresh Begin", func(ctx context.Context, h *oss.Heap) error {
			_, err := h.Begin(ctx, &oss.TxOptions{Fresh: true})
			return err
		}},
		{"Update whose function read and failed", func(ctx context.Context, h *oss.Heap) error {
			return h.Update(ctx, func(tx *oss.Tx) error {
				if _, err := r.Get(tx); err != nil {
					return err
				}
				return errors.New("insufficient funds")
			})
		}},
	}
	for _, c2 := range calls {
		// A cut made afresh for each call, which ctx outlives by less
		// than an election timeout: its raft still has a leader.
		cut := "n1"
		if c.WaitLeader("kv") == cut {
			cut = "n2"
		}
		var others []string
		for _, n := range []string{"n1", "n2", "n3"} {
			if n != cut {
				others = append(others, n)
			}
		}
		c.Partition([]string{cut}, others)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := c2.call(ctx, c.Heap(cut, "kv"))
		cancel()
		c.Heal()
		if !errors.Is(err, oss.ErrNoQuorum) {
			t.Errorf("%s on a cut-off node: %v; want ErrNoQuorum", c2.name, err)
		}
	}
}
