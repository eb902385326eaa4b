package oss

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestCreatedHeapDroppedWhileItOpensSaysSo: the heap a CreateHeap (or a
// restore's) made is dropped while its group is joined, and nobody
// creates the name again. The call created the heap and must say that it
// is gone, with the group it created: RestoreHeap then said "the heap was
// created, empty: drop it before restoring again", of a heap that no
// longer existed, and a drop by name would take whatever heap another
// caller had made of it since. Found by TestCatalogChurnAcrossNodes.
func TestCreatedHeapDroppedWhileItOpensSaysSo(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startDurable(t, 46, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	backup := churnBackup(t, n)
	dropUnderOpen := func(name string) {
		n.openFault = func() error {
			n.openFault = nil
			if err := n.DropHeap(ctx, name); err != nil {
				t.Errorf("drop: %v", err)
			}
			return ErrClosed // as a join closed as dropped
		}
	}

	dropUnderOpen("C")
	_, err := n.CreateHeap(ctx, "C", nil)
	var cn *createdNotOpen
	if !errors.Is(err, ErrCreatedNotOpen) || !errors.As(err, &cn) || cn.group == 0 {
		t.Errorf("CreateHeap of a heap dropped as it opened: %v; want ErrCreatedNotOpen with the group it created", err)
	}

	dropUnderOpen("R")
	_, err = n.RestoreHeap(ctx, "R", bytes.NewReader(backup), nil)
	if !errors.Is(err, ErrCreatedNotOpen) || strings.Contains(err.Error(), "ossd heaps drop") {
		t.Errorf("restore of a heap dropped as it opened: %v; want ErrCreatedNotOpen, saying the heap it created was dropped (no drop by hand)", err)
	}
	if !strings.Contains(err.Error(), "dropped meanwhile") {
		t.Errorf("restore of a heap dropped as it opened: %v; want it to say the heap it created was dropped meanwhile", err)
	}
	if _, err := n.Heap(ctx, "R"); !errors.Is(err, ErrNoHeap) {
		t.Errorf("Heap R after the restore: %v; want ErrNoHeap", err)
	}
}
