package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A put through a node whose write-ahead log is gone (removed or moved
// while it ran) fails with the log's reason, and the advice must not send
// the user to wait for an election: with every voter live it said "an
// election may be under way; try again", which never helps that node.
func TestQuorumAdviceForAGoneLog(t *testing.T) {
	gone := fmt.Errorf(`oss: heap "h": the node's write-ahead log is gone (removed or moved while the node ran); it commits nothing more: %w`, oss.ErrCommitUnknown)
	got := adviceFor(t, []string{"n1", "n2", "n3"}, []string{"n1", "n2", "n3"}, gone)
	if !errors.Is(got, oss.ErrCommitUnknown) {
		t.Fatalf("%v: want the error it explains", got)
	}
	if strings.Contains(got.Error(), "election") || !strings.Contains(got.Error(), "--rebuild-replica") {
		t.Fatalf("advice for a gone log: %v\nwant --rebuild-replica and no election", got)
	}
}
