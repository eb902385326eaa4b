package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ossd status shows a damaged node first, with why and what to do, and
// every replica a node lost, so that an operator need not read the log to
// learn that a node must be rebuilt.
func TestStatusShowsDamage(t *testing.T) {
	why := "oss: the node's data is damaged: node \"b\" cannot use the catalog: its replica of \"oss:catalog\" was lost while the node ran (raft: ...); restart it empty to rebuild its replicas from its peers: ossd run --rebuild-replica --join <a member>"
	st := &oss.ClusterStatus{Node: "b", Damage: why,
		Members: []oss.Member{{Name: "a"}, {Name: "b"}},
		Heaps: []oss.HeapStatus{{Name: "oss:catalog", Replicas: 5, Leader: "a", Voters: []string{"a", "b"},
			ReplicaApplied: map[string]uint64{"a": 9, "b": 7}, Lost: map[string]string{"b": "raft: ..."}}}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	if !strings.HasPrefix(out, "DAMAGED: node b: "+why+"\n") || !strings.Contains(out, "lost: the replica of oss:catalog on b: raft: ...\n") {
		t.Fatalf("ossd status of a damaged node:\n%s", out)
	}
	b.Reset()
	st.Damage, st.Heaps[0].Lost = "", nil
	printStatus(&b, st)
	if strings.Contains(b.String(), "DAMAGED") || strings.Contains(b.String(), "lost:") {
		t.Fatalf("ossd status of a sound node:\n%s", b.String())
	}
}
