package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// The status of a node whose certificate was revoked while it ran (as
// "ossd cert revoke n4" leaves it until it is stopped) is its own view,
// itself alone: it named every other voter "down: ..., is no live
// member", all of them live, under its REVOKED banner.
func TestRevokedNodesStatusNamesNoLiveVoterDown(t *testing.T) {
	st := &oss.ClusterStatus{Node: "n4",
		Revoked: `oss: certificate revoked: node "n4" runs on a certificate that n5 refused as revoked`,
		Members: []oss.Member{{Name: "n4"}},
		Heaps: []oss.HeapStatus{
			{Name: "oss:catalog", Replicas: 5, Voters: []string{"n1", "n3", "n5"}, Learners: []string{"n4"}},
			{Name: "bank", Replicas: 3, Voters: []string{"n1", "n4", "n5"}, Learners: []string{"n3"}},
		}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	if strings.Contains(out, "down:") || strings.Contains(out, "not live:") {
		t.Errorf("a revoked node's status names members down that only it cannot see:\n%s", out)
	}
	if !strings.HasPrefix(out, "REVOKED: node n4") || !strings.Contains(out, "cut off: n4 sees no other member") {
		t.Errorf("a revoked node's status does not say it is cut off:\n%s", out)
	}
}
