package oss_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// A Scan whose function ends its transaction (a Commit or a Rollback of
// one from Begin) stops there and returns ErrTxDone, as every call on an
// ended transaction does: it does not go on handing out the IDs of a
// transaction that is over, nor report that it enumerated them all.
func TestAPIProbeScanStopsWhenItsTxEnds(t *testing.T) {
	_, h, r := probeHeap(t)
	ctx := context.Background()
	if err := h.Update(ctx, func(tx *oss.Tx) error {
		for i := 0; i < 3; i++ {
			if _, err := oss.New(tx, int64(i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, end := range []string{"Commit", "Rollback"} {
		tx, err := h.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Put(tx, 7); err != nil {
			t.Fatal(err)
		}
		calls := 0
		err = tx.Scan(func(uuid.UUID) bool {
			calls++
			if calls == 1 {
				var err error
				if end == "Commit" {
					err = tx.Commit()
				} else {
					err = tx.Rollback()
				}
				if err != nil {
					t.Errorf("%s inside Scan: %v", end, err)
				}
			}
			return true
		})
		if calls != 1 || !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s inside Scan: fn called %d times, Scan returned %v; want once and ErrTxDone", end, calls, err)
		}
	}
}

// A transaction whose commit record is over Config.MaxCommitBytes for
// what it read, not what it wrote, is refused with a *TooLargeError that
// counts its reads and writes and says so, writing nothing; the heap goes
// on.
func TestAPIProbeTooLargeCountsReads(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger(), MaxCommitBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	h, err := n.CreateHeap(ctx, "many", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for b := 0; b < 6; b++ {
		if err := h.Update(ctx, func(tx *oss.Tx) error {
			for i := 0; i < 50; i++ {
				r, err := oss.New(tx, 1)
				if err != nil {
					return err
				}
				ids = append(ids, r.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(tx *oss.Tx) (int, error) {
		s := 0
		for _, id := range ids {
			v, err := oss.Get[int](tx, id)
			if err != nil {
				return 0, err
			}
			s += v
		}
		return s, nil
	}
	err = h.Update(ctx, func(tx *oss.Tx) error {
		s, err := sum(tx)
		if err != nil {
			return err
		}
		return oss.Put(tx, ids[0], s)
	})
	var tl *oss.TooLargeError
	if !errors.As(err, &tl) || tl.Reads != len(ids) || tl.Writes != 1 {
		t.Fatalf("Update reading %d objects returned %v (%+v), want a *TooLargeError of %d reads and 1 write", len(ids), err, tl, len(ids))
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%d objects and roots the transaction read", len(ids))) {
		t.Errorf("the error does not say what the record holds: %v", err)
	}
	if err := h.View(ctx, func(tx *oss.Tx) error {
		if s, err := sum(tx); err != nil || s != len(ids) {
			return fmt.Errorf("sum %d, %v: want %d, the refused commit wrote something", s, err, len(ids))
		}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, ids[0], 2) }); err != nil {
		t.Fatalf("a commit after the refused one: %v", err)
	}
}

// An Update function's own error is returned as it is, also one that
// matches ErrConflict (a transaction's on another heap, say): Update does
// not retry on it.
func TestAPIProbeFunctionsConflictIsNotRetried(t *testing.T) {
	_, h, r := probeHeap(t)
	ctx := context.Background()
	mine := fmt.Errorf("the other heap: %w", oss.ErrConflict)
	runs := 0
	err := h.Update(ctx, func(tx *oss.Tx) error {
		runs++
		if _, err := r.Get(tx); err != nil {
			return err
		}
		return mine
	})
	if err != mine || runs != 1 {
		t.Errorf("Update ran fn %d times and returned %v; want once, and fn's error", runs, err)
	}
}

// Values keep a struct's exported fields alone, named by their cbor or
// json tags, and a Go array read from a longer one keeps what it holds,
// as Get documents (encoding/json's rules).
func TestAPIProbeStructAndArrayDecodeAsDocumented(t *testing.T) {
	_, h, _ := probeHeap(t)
	ctx := context.Background()
	type hidden struct{ a int }
	type tagged struct {
		A int `cbor:"x"`
		B int `json:"y"`
		C int `json:"-"`
	}
	hid, tag, arr := uuid.New(), uuid.New(), uuid.New()
	if err := h.Update(ctx, func(tx *oss.Tx) error {
		return errors.Join(oss.Put(tx, hid, hidden{a: 3}), oss.Put(tx, tag, tagged{1, 2, 3}),
			oss.Put(tx, arr, []int{1, 2, 3}))
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.View(ctx, func(tx *oss.Tx) error {
		if v, err := oss.Get[hidden](tx, hid); err != nil || v != (hidden{}) {
			t.Errorf("unexported field: got %+v, %v; want the zero value", v, err)
		}
		if m, err := oss.Get[map[string]int](tx, tag); err != nil || len(m) != 2 || m["x"] != 1 || m["y"] != 2 {
			t.Errorf("tagged fields: got %v, %v; want map[x:1 y:2]", m, err)
		}
		if a, err := oss.Get[[2]int](tx, arr); err != nil || a != [2]int{1, 2} {
			t.Errorf("array: got %v, %v; want [1 2]", a, err)
		}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
}
