package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ossd status gathered on a node whose log runs, of a member whose log
// has stopped: that member's replicas are named as needing a rebuild,
// not as stuck on a disk to free space on (what the status printed
// before: freeing space does nothing for a log gone from its directory).
// A replica stuck on a full disk still is.
func TestStatusSaysAPeersLogFailed(t *testing.T) {
	why := "persist: write-ahead log failed: persist: write-ahead log is gone: segment x4/wal/0000000000000001.wal is no longer in x4/wal"
	st := &oss.ClusterStatus{Node: "n1", Members: []oss.Member{{Name: "n1"}, {Name: "n4"}, {Name: "n5"}},
		Heaps: []oss.HeapStatus{{Name: "settings", Replicas: 3, Voters: []string{"n1", "n4", "n5"},
			Stuck:     map[string]string{"n4": why, "n5": "no space left on device"},
			LogFailed: []string{"n4"}}}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	want := "log failed: the replica of settings on n4 commits and applies nothing more: n4's write-ahead log has stopped; rebuild n4 with --rebuild-replica --join: " + why
	if !strings.Contains(out, want) {
		t.Errorf("ossd status of a member whose log stopped:\n%s\nwant the line %q", out, want)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "on n4") && strings.Contains(line, "free space") {
			t.Errorf("ossd status advises freeing space for a member whose log stopped: %q", line)
		}
	}
	if !strings.Contains(out, "stuck: the replica of settings on n5 cannot write its log, and applies nothing until it can (free space or mend the disk): no space left on device") {
		t.Errorf("ossd status of a member stuck on a full disk:\n%s", out)
	}
}
