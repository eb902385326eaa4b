package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// "ossd status" says which replica cannot write its node's log, and what
// mends it: the lag of its APPLIED was all it showed.
func TestStatusPrintsAStuckReplica(t *testing.T) {
	st := oss.ClusterStatus{Node: "n1",
		Members: []oss.Member{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}},
		Heaps: []oss.HeapStatus{{Name: "big", Replicas: 3, Leader: "n2", Voters: []string{"n1", "n2", "n3"},
			ReplicaApplied: map[string]uint64{"n1": 3202, "n2": 3202, "n3": 2661},
			Stuck:          map[string]string{"n3": "persist: write-ahead log: write d/wal/1.wal: no space left on device"}}}}
	var b strings.Builder
	printStatus(&b, &st)
	if !strings.Contains(b.String(), "stuck: the replica of big on n3 cannot write its log") || !strings.Contains(b.String(), "no space left on device") {
		t.Errorf("status of a replica whose disk is full:\n%s\nwant a line naming it and its disk's error", b.String())
	}
}
