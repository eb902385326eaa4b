package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ossd status says first that the node's write-ahead log has stopped, and
// why (oss.ClusterStatus.LogFailed: a log gone from the data directory
// names its segment): the node commits nothing until it is restarted.
func TestStatusSaysTheLogFailed(t *testing.T) {
	why := "persist: write-ahead log failed: persist: write-ahead log is gone: segment /d/wal/0000000000000001.wal is no longer in /d/wal"
	st := &oss.ClusterStatus{Node: "n1", Members: []oss.Member{{Name: "n1"}}, LogFailed: why}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	if !strings.HasPrefix(out, "LOG FAILED: node n1 commits nothing until restarted: "+why) {
		t.Fatalf("ossd status of a node whose log failed:\n%s", out)
	}
	b.Reset()
	st.LogFailed = ""
	printStatus(&b, st)
	if strings.Contains(b.String(), "LOG FAILED") {
		t.Fatalf("ossd status of a node whose log runs:\n%s", b.String())
	}
}
