package oss

import (
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// Stats().LeaderContact, the bound of a plain View's staleness, carries
// the monotonic clock's reading, so that its age (time.Since) is immune
// to a step of the wall clock. (It was rebuilt from Unix nanoseconds:
// after the wall clock stepped back a day, a replica cut off from its
// leader looked in contact for a day, and one stepped forward looked cut
// off.)
func TestLeaderContactAgeIsMonotonic(t *testing.T) {
	var c leaderContact
	before := time.Now()
	c.heard(raftpb.Message{Type: raftpb.MsgHeartbeat, Commit: 7})
	index, at := c.last()
	if index != 7 {
		t.Fatalf("commit index %d, want 7", index)
	}
	if !strings.Contains(at.String(), " m=") {
		t.Fatalf("LeaderContact %v has no monotonic reading: its age follows the wall clock's steps", at)
	}
	if at.Before(before) || time.Since(at) < 0 {
		t.Fatalf("LeaderContact %v, heard after %v", at, before)
	}
}
