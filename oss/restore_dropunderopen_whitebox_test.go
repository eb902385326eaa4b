package oss

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestRestoreOfAHeapDroppedWhileItOpensTouchesNoOther: the heap a
// restore's CreateHeap made is dropped while its group is joined, and
// another caller creates the name again and writes into it. The open
// must not hand the restore that other heap: a good backup would be
// written into it, and a bad one would drop it. Either way the restore
// fails with ErrCreatedNotOpen, and the other heap keeps its object and
// holds nothing of the backup.
func TestRestoreOfAHeapDroppedWhileItOpensTouchesNoOther(t *testing.T) {
	c := startDurable(t, 45, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src, err := n.CreateHeap(ctx, "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := src.Update(ctx, func(tx *Tx) error { return Put(tx, answerID(i), i) }); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := src.Backup(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for _, c := range []struct {
		name   string
		backup []byte
	}{
		{"good", good},
		{"truncated", good[:len(good)-3]},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "X-" + c.name
			n.openFault = func() error {
				n.openFault = nil
				if err := n.DropHeap(ctx, name); err != nil {
					t.Errorf("drop: %v", err)
				}
				o, err := n.CreateHeap(ctx, name, nil)
				if err != nil {
					t.Errorf("the other caller's create: %v", err)
					return ErrClosed
				}
				if err := o.Update(ctx, func(tx *Tx) error { return Put(tx, answerID(99), 99) }); err != nil {
					t.Errorf("the other caller's write: %v", err)
				}
				return ErrClosed // as a join closed as dropped
			}
			_, err := n.RestoreHeap(ctx, name, bytes.NewReader(c.backup), nil)
			if !errors.Is(err, ErrCreatedNotOpen) {
				t.Errorf("restore: %v; want an error matching ErrCreatedNotOpen", err)
			}
			x, err := n.Heap(ctx, name)
			if err != nil {
				t.Fatalf("the other caller's heap after the restore: %v", err)
			}
			err = x.View(ctx, func(tx *Tx) error {
				if v, err := Get[int](tx, answerID(99)); err != nil || v != 99 {
					t.Errorf("the other caller's object: %v, %v; want 99", v, err)
				}
				if ok, err := tx.Exists(answerID(3)); ok || err != nil {
					t.Errorf("the backup's object 3 in the other caller's heap: %v, %v", ok, err)
				}
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
