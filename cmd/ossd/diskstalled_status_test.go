package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ossd status names a stalled disk of the node it asked, with the
// operation and the file (oss.ClusterStatus.DiskStalled), above the
// members, and says nothing of it once the disk answers.
func TestStatusShowsAStalledDisk(t *testing.T) {
	why := "oss: the data directory's disk is stalled: sync of /data/wal/0000000000000001.wal has not returned in 6.2s; the replicas waiting for it commit nothing until it does"
	st := &oss.ClusterStatus{Node: "b", DiskStalled: why, Members: []oss.Member{{Name: "a"}, {Name: "b"}}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	if !strings.HasPrefix(out, "DISK STALLED: node b: "+why) {
		t.Fatalf("ossd status of a node whose disk is stalled:\n%s", out)
	}
	st.DiskStalled = ""
	b.Reset()
	printStatus(&b, st)
	if strings.Contains(b.String(), "STALLED") {
		t.Fatalf("ossd status once the disk answers still speaks of a stall:\n%s", b.String())
	}
}
