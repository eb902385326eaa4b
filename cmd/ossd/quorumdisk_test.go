package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A put the node's own log refused (a full disk) is not explained as an
// election: every voter is live, and the cause is the node's disk.
func TestQuorumAdviceNamesTheNodesDisk(t *testing.T) {
	disk := fmt.Errorf(`%w: oss: heap "h": the log cannot be written: write /d/wal/0.wal: no space left on device`, oss.ErrCommitUnknown)
	nodes := []string{"n1", "n2", "n3"}
	got := adviceFor(t, nodes, nodes, disk)
	if !errors.Is(got, oss.ErrCommitUnknown) || !strings.Contains(got.Error(), "its disk") || strings.Contains(got.Error(), "election") {
		t.Errorf("a write the node's log refused: %v\nwant the disk named, no election", got)
	}
	other := fmt.Errorf("no answer: %w", oss.ErrCommitUnknown)
	if got := adviceFor(t, nodes, nodes, other); !strings.Contains(got.Error(), "election") {
		t.Errorf("an unknown outcome with every voter live: %v\nwant the election hint", got)
	}
}
