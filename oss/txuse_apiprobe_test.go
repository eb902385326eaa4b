package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
)

// An Update whose function panics, or returns an error, or ignores an
// error that aborted its transaction, writes nothing, and the heap goes
// on.
func TestAPIProbeFailedUpdateWritesNothing(t *testing.T) {
	_, h, r := probeHeap(t)
	ctx := context.Background()
	var str uuid.UUID
	if err := h.Update(ctx, func(tx *oss.Tx) (err error) {
		str = uuid.New()
		return oss.Put(tx, str, "a string")
	}); err != nil {
		t.Fatal(err)
	}
	before := h.Stats()
	mine := errors.New("mine")
	for _, c := range []struct {
		name string
		fn   func(tx *oss.Tx) error
		want any
	}{
		{"panic", func(tx *oss.Tx) error { r.Put(tx, 1); panic("boom") }, nil},
		{"error", func(tx *oss.Tx) error { r.Put(tx, 2); return mine }, mine},
		{"ignored decode error", func(tx *oss.Tx) error {
			r.Put(tx, 3)
			oss.Get[int](tx, str)
			return nil
		}, new(*oss.DecodeError)},
		{"ignored encode error", func(tx *oss.Tx) error {
			r.Put(tx, 4)
			oss.Put(tx, uuid.New(), func() {})
			return nil
		}, new(*oss.EncodeError)},
		{"ignored too large", func(tx *oss.Tx) error {
			r.Put(tx, 5)
			oss.Put(tx, uuid.New(), strings.Repeat("x", 9<<20))
			return nil
		}, oss.ErrTooLarge},
		{"write in an OnCommit", func(tx *oss.Tx) error {
			tx.OnCommit(func() {})
			r.Put(tx, 6)
			return tx.Commit()
		}, oss.ErrInvalidArgument},
	} {
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil && c.want != nil {
					t.Errorf("%s: Update panicked with %v", c.name, p)
				}
			}()
			err = h.Update(ctx, c.fn)
		}()
		switch want := c.want.(type) {
		case nil:
		case **oss.DecodeError:
			if !errors.As(err, want) {
				t.Errorf("%s: Update returned %v, want a *DecodeError", c.name, err)
			}
		case **oss.EncodeError:
			if !errors.As(err, want) {
				t.Errorf("%s: Update returned %v, want an *EncodeError", c.name, err)
			}
		case error:
			if !errors.Is(err, want) {
				t.Errorf("%s: Update returned %v, want %v", c.name, err, want)
			}
		}
	}
	if s := h.Stats(); s.Applied != before.Applied || s.Commits != before.Commits {
		t.Errorf("failed Updates moved the log: applied %d → %d, commits %d → %d", before.Applied, s.Applied, before.Commits, s.Commits)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return r.Put(tx, 7) }); err != nil {
		t.Fatalf("an Update after the failed ones: %v", err)
	}
	h.View(ctx, func(tx *oss.Tx) error {
		if v, err := r.Get(tx); v != 7 || err != nil {
			t.Errorf("the object holds %d, %v; want 7", v, err)
		}
		return nil
	}, nil)
}

// A transaction kept by an Update or View function after it returned is
// ended: every call on it returns ErrTxDone, a goroutine's write after
// the return included, and nothing it writes is committed.
func TestAPIProbeKeptTxIsDone(t *testing.T) {
	_, h, r := probeHeap(t)
	ctx := context.Background()
	var kept, keptView *oss.Tx
	later := make(chan error)
	start := make(chan struct{})
	if err := h.Update(ctx, func(tx *oss.Tx) error {
		kept = tx
		go func() {
			<-start
			later <- r.Put(tx, 42)
		}()
		return r.Put(tx, 1)
	}); err != nil {
		t.Fatal(err)
	}
	close(start)
	if err := await.Recv(t, later, "the goroutine's Put after Update returned"); !errors.Is(err, oss.ErrTxDone) {
		t.Errorf("a goroutine's Put after Update returned: %v, want ErrTxDone", err)
	}
	if err := h.View(ctx, func(tx *oss.Tx) error { keptView = tx; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	for name, tx := range map[string]*oss.Tx{"Update's": kept, "View's": keptView} {
		calls := map[string]error{}
		_, calls["Get"] = r.Get(tx)
		calls["Put"] = r.Put(tx, 5)
		calls["Delete"] = tx.Delete(r.ID)
		_, calls["Exists"] = tx.Exists(r.ID)
		_, calls["Version"] = tx.Version(r.ID)
		_, calls["Root"] = tx.Root("home")
		calls["SetRoot"] = tx.SetRoot("home", r.ID)
		calls["DeleteRoot"] = tx.DeleteRoot("home")
		calls["Scan"] = tx.Scan(func(uuid.UUID) bool { return true })
		calls["Commit"] = tx.Commit()
		calls["Rollback"] = tx.Rollback()
		for call, err := range calls {
			if !errors.Is(err, oss.ErrTxDone) {
				t.Errorf("%s transaction kept: %s returned %v, want ErrTxDone", name, call, err)
			}
		}
		if tx.Index() == 0 {
			t.Errorf("%s transaction kept: Index 0", name)
		}
	}
	h.View(ctx, func(tx *oss.Tx) error {
		if v, err := r.Get(tx); v != 1 || err != nil {
			t.Errorf("the object holds %d, %v; want 1", v, err)
		}
		return nil
	}, nil)
}
