package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// The LEADS column of ossd status names the heaps a member leads: a heap
// whose name holds a rune that does not show as itself is printed there
// as the heap table prints it, a shell word, not raw (a zero-width space
// made two heaps' names look alike, a bidirectional character reversed
// the member's line).
func TestStatusLeadsColumnPrintsUnprintableHeapNamesEscaped(t *testing.T) {
	const zw, bidi = "zw\u200bx", "old\u202eevil"
	st := &oss.ClusterStatus{
		Node:    "n1",
		Members: []oss.Member{{Name: "n1", Role: "server", Leads: []string{"plain", zw, bidi}}},
		Heaps: []oss.HeapStatus{
			{Name: "plain", Replicas: 1, Leader: "n1", Voters: []string{"n1"}},
			{Name: zw, Replicas: 1, Leader: "n1", Voters: []string{"n1"}},
			{Name: bidi, Replicas: 1, Leader: "n1", Voters: []string{"n1"}},
		},
	}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	if rawUnprintable(out) {
		t.Errorf("the status prints a name's runes raw:\n%q", out)
	}
	want := `plain,$'zw\xe2\x80\x8bx',$'old\xe2\x80\xaeevil'`
	if !strings.Contains(out, "server  "+want+"\n") {
		t.Errorf("the member line lacks its leads as %s:\n%s", want, out)
	}
	if st.Members[0].Leads[1] != zw {
		t.Errorf("printing the status changed the member's leads to %q", st.Members[0].Leads)
	}
}
