package main

import (
	"errors"
	"fmt"

	"github.com/objectsharing/oss/oss"
)

// explainCreatedNotOpen words a put's answer that the node created the
// heap and could not open its replica (oss.ErrCreatedNotOpen, a 503 with
// X-Oss-Heap-Created): the root was not written, the heap exists, and a
// put again opens it. The node's own text says "open it with Heap", a
// call of the Go API; the answer was read as no quorum until it said
// what it was, and got that advice. Other errors are returned as they
// are.
func explainCreatedNotOpen(heap string, err error) error {
	if !errors.Is(err, oss.ErrCreatedNotOpen) || errors.Is(err, oss.ErrCommitUnknown) {
		return err
	}
	return fmt.Errorf("%w\nthe heap exists now and the root was not written: the node could not open its replica of the heap; put again (the heap is not created twice), through another node if this one still cannot open it (\"%s\" removes the heap)", err, suggest("ossd heaps drop", "", heap))
}
