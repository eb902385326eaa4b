package oss

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// DropHeapOfGroup drops the heap name as DropHeap does, but only if it is
// the heap of group group (HeapStatus.Group): a heap of that name dropped
// and created again since, by anyone, has another group and is left as
// it is. The check and the removal are one catalog transaction. It is
// the drop for a heap named by an error that may be old by the time it is
// read (RestoreLeftError: a failed restore that could not drop the heap
// it created), where a drop by name alone could remove another caller's
// heap.
//
// A name no heap has, or whose heap is of another group, returns an error
// matching ErrNoHeap, which says which, and drops nothing. Other errors
// are DropHeap's.
func (n *Node) DropHeapOfGroup(ctx context.Context, name string, group uint64) error {
	if group == 0 {
		return fmt.Errorf("%w: drop heap %s: group 0 is no heap's", ErrInvalidArgument, quoteName(name))
	}
	return n.dropHeap(ctx, name, []uint64{group})
}

// dropHeap is DropHeap (groups nil: whatever the heap's group) and
// DropHeapOfGroup (groups its one group).
func (n *Node) dropHeap(ctx context.Context, name string, groups []uint64) error {
	if strings.HasPrefix(name, systemPrefix) {
		return fmt.Errorf("%w %q: the prefix %q is reserved; the system heaps cannot be dropped", ErrInvalidHeapName, name, systemPrefix)
	}
	if err := validHeapName(name); err != nil {
		return err
	}
	if err := n.Damage(); err != nil {
		return err
	}
	if err := n.authorizeSelf(ctx, name, PermAdmin); err != nil {
		return err
	}
	what := fmt.Sprintf("drop heap %q", name)
	if len(groups) == 1 {
		what = fmt.Sprintf("drop heap %q of group %d", name, groups[0])
	}
	open := n.replicaOf(name)
	other, err := n.deleteEntry(ctx, name, groups)
	switch {
	case err == errNothingThere && other != 0:
		return fmt.Errorf("oss: %s: %w: the heap of that name is of group %d, another heap, created since that one was dropped: nothing was dropped", what, ErrNoHeap, other)
	case err == errNothingThere:
		return fmt.Errorf("oss: %s: %w: nothing was dropped (Node.Heaps, or ossd heaps, lists the heaps)", what, ErrNoHeap)
	case err != nil:
		return fmt.Errorf("oss: %s: %w", what, uncheckedRemoval(err, "the heap"))
	}
	n.syncCatalog()
	if open != nil && (groups == nil || slices.Contains(groups, open.group)) {
		// The node's watch of its catalog may be the one closing it:
		// handles on it return ErrClosed once DropHeap has returned.
		select {
		case <-open.done:
		case <-ctx.Done():
		}
	}
	return nil
}

// deleteEntry deletes the catalog entry of heap name, if groups is not
// nil only if the entry is of one of them, in one catalog transaction.
// It returns errNothingThere, and deletes nothing, if there is no entry
// or it is another group's (other, then; 0 if there is none).
func (n *Node) deleteEntry(ctx context.Context, name string, groups []uint64) (other uint64, err error) {
	err = n.catalog.Load().Update(ctx, func(tx *Tx) error {
		other = 0 // fn may run again
		ok, err := tx.Exists(entryID(name))
		if err != nil {
			return err
		}
		if !ok {
			return errNothingThere // checked with a read index, not a record
		}
		if groups != nil {
			e, err := Get[heapEntry](tx, entryID(name))
			if err != nil {
				return err
			}
			if e.Name != name || !slices.Contains(groups, e.Group) {
				other = e.Group
				return errNothingThere
			}
		}
		return tx.Delete(entryID(name))
	})
	if err != nil && err != errNothingThere {
		other = 0
	}
	return other, err
}
