package admin

import (
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestUIFactorChangeIsAnEvent: a heap whose replication factor changed
// between two samples (oss.Node.SetHeapReplicas) is an event on the
// dashboard, as its creation is.
func TestUIFactorChangeIsAnEvent(t *testing.T) {
	d := &dashboard{heaps: map[string]oss.HeapStatus{"orders": {Name: "orders", Replicas: 3}}}
	r := &sampling{d: d}
	r.heapEvents(oss.HeapStatus{Name: "orders", Replicas: 3})
	if len(d.events) != 0 {
		t.Fatalf("events with no change: %+v", d.events)
	}
	r.heapEvents(oss.HeapStatus{Name: "orders", Replicas: 5})
	if len(d.events) != 1 || d.events[0].Text != "orders replicas: 3 → 5" {
		t.Fatalf("events %+v, want one saying orders replicas: 3 → 5", d.events)
	}
}
