package main

import (
	"errors"
	"fmt"

	"github.com/objectsharing/oss/oss"
)

// explainDisk adds to a write the node's disk refused before anything
// was committed (oss.ErrDisk: a 507 of the admin interface) what it
// means and what to do: the node's answer, a 500 before, named the log's
// file and the disk's error and said nothing of the outcome or a remedy.
// The client sent the write on to the other nodes of --http first, each
// of which answered for itself. Other errors are returned as they are.
func explainDisk(err error) error {
	if !errors.Is(err, oss.ErrDisk) || errors.Is(err, oss.ErrCommitUnknown) {
		return err
	}
	return fmt.Errorf("%w\nnothing was committed: the node's disk refused the write (full, or failing); free space or mend the disk it writes to, or write through another node (--http A,B: the CLI goes on to the next node on such a refusal), then try again", err)
}
