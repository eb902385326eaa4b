package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A put or fresh read through a node whose disk is full, whose replica
// therefore could not catch up, is not explained as an election: every
// voter is live, and the node says its log cannot be written. "ossd put"
// through such a node answered "an election may be under way; try
// again", which no retry through that node mends.
func TestQuorumAdviceNamesAStuckLog(t *testing.T) {
	stuck := fmt.Errorf(`%w: heap "h": no read index of its leader answered and applied before the context ended (this node cannot write its log, so its replica applies nothing until it can: persist: write-ahead log: write /d/wal/1.wal: no space left on device): context deadline exceeded`, oss.ErrNoQuorum)
	nodes := []string{"n1", "n2", "n3"}
	got := adviceFor(t, nodes, nodes, stuck)
	if !errors.Is(got, oss.ErrNoQuorum) || !strings.Contains(got.Error(), "another node") || strings.Contains(got.Error(), "election") {
		t.Errorf("a wait on a node that cannot write its log: %v\nwant another node suggested, no election", got)
	}
}
