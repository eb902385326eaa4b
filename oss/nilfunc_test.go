package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A nil function given to Update, View, Scan or OnCommit is a caller's
// mistake: it is refused with ErrInvalidArgument, nothing is written, no
// panic (an OnCommit one used to panic after the commit), and the heap
// goes on.

func TestNilFunctionsRefused(t *testing.T) {
	_, h, r := probeHeap(t)
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
	}{
		{"Update", func() error { return h.Update(ctx, nil) }},
		{"View", func() error { return h.View(ctx, nil, nil) }},
		{"Scan", func() error {
			return h.Update(ctx, func(tx *oss.Tx) error {
				if err := oss.Put(tx, r.ID, int64(1)); err != nil {
					return err
				}
				tx.Scan(nil) // its error is ignored: the transaction is aborted all the same
				return nil
			})
		}},
		{"View Scan", func() error {
			return h.View(ctx, func(tx *oss.Tx) error { return tx.Scan(nil) }, nil)
		}},
		{"OnCommit", func() error {
			return h.Update(ctx, func(tx *oss.Tx) error {
				tx.OnCommit(nil)
				return oss.Put(tx, r.ID, int64(1))
			})
		}},
		{"Begin OnCommit", func() error {
			tx, err := h.Begin(ctx, nil)
			if err != nil {
				return err
			}
			tx.OnCommit(nil)
			if err := oss.Put(tx, r.ID, int64(1)); err != nil {
				return err
			}
			return tx.Commit()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panicked: %v", p)
					}
				}()
				err = c.call()
			}()
			if !errors.Is(err, oss.ErrInvalidArgument) {
				t.Fatalf("got %v, want ErrInvalidArgument", err)
			}
			err = h.View(ctx, func(tx *oss.Tx) error {
				v, err := oss.Get[int64](tx, r.ID)
				if err == nil && v != 0 {
					t.Errorf("the object holds %d: the refused transaction wrote it", v)
				}
				return err
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
