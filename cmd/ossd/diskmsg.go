package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// explainDisk adds to a write the node's disk refused (oss.ErrDisk: a
// 507 of the admin interface) what it means and what to do: the node's
// answer, a 500 before, named the log's file and the disk's error and
// said nothing of the outcome or a remedy. A refusal before anything was
// committed was sent on to the other nodes of --http first, each of
// which answered for itself (admin.TookNothing). One that did something
// first, a root's PUT that created its heap and then had the root
// refused (not sent on), says the heap exists and the root was not
// written: it said nothing was committed and that the CLI went on to the
// next node. Other errors are returned as they are.
func explainDisk(err error) error {
	if !errors.Is(err, oss.ErrDisk) || errors.Is(err, oss.ErrCommitUnknown) {
		return err
	}
	if !admin.TookNothing(err) {
		return fmt.Errorf("%w\nthe heap exists and the root was not written: the node's disk refused the root's write (full, or failing); free space or mend the disk it writes to, or write through another node, then put again", err)
	}
	return fmt.Errorf("%w\nnothing was committed: the node's disk refused the write (full, or failing); free space or mend the disk it writes to, or write through another node (--http A,B: the CLI goes on to the next node on such a refusal), then try again", err)
}

// noteCreatedThenRefused tells notes, of a put whose heap did not exist
// when it began, that the heap exists now though the node's disk refused
// the root (err: a 507 that took something, see explainDisk), as put
// tells of a heap it created: the note was left out with the root.
func noteCreatedThenRefused(notes io.Writer, heap string, err error) {
	if errors.Is(err, oss.ErrDisk) && !errors.Is(err, oss.ErrCommitUnknown) && !admin.TookNothing(err) {
		fmt.Fprintf(notes, "ossd: put: heap %q did not exist when put began and exists now (put created it, or another meanwhile), without the root (\"%s\" removes it)\n", heap, suggest("ossd heaps drop", "", heap))
	}
}
