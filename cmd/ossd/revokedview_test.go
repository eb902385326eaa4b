package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A node whose certificate was just revoked still lists other members
// for seconds (until its peers' refusals make membership drop them: 9.9 s
// with GossipLAN): its status said "cut off: n4 sees no other member"
// then, false, and left out the "down:" and "not live:" lines of the
// members it did not list. It says so only once its view holds no other
// member; before, it prints the lines under a note not to trust them.
func TestRevokedNodesStatusWhileOthersStillInView(t *testing.T) {
	st := &oss.ClusterStatus{Node: "n4",
		Revoked: `oss: certificate revoked: node "n4" runs on a certificate that n5 refused as revoked`,
		Members: []oss.Member{{Name: "n4"}, {Name: "n1"}, {Name: "n5"}},
		Heaps: []oss.HeapStatus{
			{Name: "oss:catalog", Replicas: 5, Voters: []string{"n1", "n3", "n5"}, Learners: []string{"n2"}},
		}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	if strings.Contains(out, "cut off:") {
		t.Errorf("a revoked node that still sees n1 and n5 says it sees no other member:\n%s", out)
	}
	for _, want := range []string{"down: n3, a voter of oss:catalog", "not live: n2, a learner of oss:catalog", "not to be trusted"} {
		if !strings.Contains(out, want) {
			t.Errorf("a revoked node that still sees other members: no %q in its status:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(out, "REVOKED: node n4") {
		t.Errorf("a revoked node's status does not begin with its banner:\n%s", out)
	}
}
