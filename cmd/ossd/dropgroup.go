package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// dropOfGroup is "ossd heaps drop NAME --group G": it drops the heap only
// if it is of group G (admin.Client.DropHeapOfGroup), the drop a failed
// restore's message gives for the heap it may have left behind, which by
// the time it is read may be another caller's heap of the name.
func dropOfGroup(ctx context.Context, w io.Writer, c *admin.Client, heap string, group uint64) error {
	err := c.DropHeapOfGroup(ctx, heap, group)
	if errors.Is(err, oss.ErrNotFound) || errors.Is(err, oss.ErrNoHeap) {
		return &explained{fmt.Sprintf("heaps drop: heap %s is not of group %d (dropped, or dropped and created again since: \"ossd heaps\" lists the heaps and their groups), so nothing was dropped", nameSaid(heap), group), err}
	}
	if err != nil {
		return outcomeUnknown(err, "ossd heaps") // unknownmsg.go
	}
	_, err = fmt.Fprintf(w, "dropped heap %s of group %d\n", nameSaid(heap), group)
	return err
}
