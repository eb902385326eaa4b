package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A heap with two of its three voters down has no leader, and nothing
// replaces them: "ossd status" says no quorum and to bring a down voter
// back, where it said "replacement pending" and that a live server takes
// each missing place.
func TestStatusSaysAHeapWithoutQuorumWantsADownVoterBack(t *testing.T) {
	st := &oss.ClusterStatus{Node: "n1",
		Members: []oss.Member{{Name: "n1", Role: "server"}, {Name: "n4", Role: "server"}, {Name: "n5", Role: "server"}},
		Heaps: []oss.HeapStatus{{Name: "bank", Replicas: 3, Voters: []string{"n1", "n2", "n3"},
			Short: &oss.VoterShortfall{Voters: 3, Live: 1, Wants: 3, Servers: 3, Down: []string{"n2", "n3"}, Why: oss.QuorumLost}}}}
	var b strings.Builder
	printStatus(&b, st)
	want := "short: heap bank has 1 live voter (of 3: n2, n3 down) of the 3 it wants: no quorum (3 servers live): it has no leader, and only a leader replaces a voter: bring a down voter back\n"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "replacement pending") {
		t.Fatalf("ossd status:\n%s\nwant %q", b.String(), want)
	}
}

// A node whose certificate is revoked, cut off or still seeing members,
// prints no short: line: its view is not to be trusted (the status says
// so), and it told every heap "not enough servers ... start more
// servers".
func TestRevokedNodesStatusPrintsNoShortLines(t *testing.T) {
	short := &oss.VoterShortfall{Voters: 3, Live: 1, Wants: 3, Servers: 1, Down: []string{"n2", "n3"}, Why: oss.ShortOfServers}
	for what, members := range map[string][]oss.Member{
		"cut off": {{Name: "n1", Role: "server"}},
		"revoked": {{Name: "n1", Role: "server"}, {Name: "n2", Role: "server"}},
	} {
		st := &oss.ClusterStatus{Node: "n1", Revoked: "oss: this node's certificate is revoked", Members: members,
			Heaps: []oss.HeapStatus{{Name: "bank", Replicas: 3, Voters: []string{"n1", "n2", "n3"}, Short: short}}}
		var b strings.Builder
		printStatus(&b, st)
		if strings.Contains(b.String(), "short:") || strings.Contains(b.String(), "start more servers") || !strings.Contains(b.String(), what+": n1") {
			t.Fatalf("ossd status of a revoked node (%s):\n%s\nwant the %s note and no short: line", what, b.String(), what)
		}
	}
}
