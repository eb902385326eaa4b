package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestSetHeapReplicasRefusals: a number out of 1..9 matches
// ErrInvalidArgument, a name no heap has ErrNoHeap, a system heap's
// ErrInvalidHeapName, and none writes anything; nor does a factor the
// heap has already. A factor above the servers (one node) is taken:
// the heap lists it and keeps its one voter.
func TestSetHeapReplicasRefusals(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	if _, err := n.CreateHeap(ctx, "h", &oss.HeapOptions{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	catalogIndex := func() uint64 {
		s, _, ok := n.ReplicaStats("oss:catalog")
		if !ok {
			t.Fatal("no catalog replica")
		}
		return s.Applied
	}
	before := catalogIndex()
	for _, c := range []struct {
		heap     string
		replicas int
		want     error
	}{
		{"h", 0, oss.ErrInvalidArgument},
		{"h", -1, oss.ErrInvalidArgument},
		{"h", 10, oss.ErrInvalidArgument},
		{"never-made", 3, oss.ErrNoHeap},
		{"oss:catalog", 3, oss.ErrInvalidHeapName},
		{"", 3, oss.ErrInvalidHeapName},
		{"h", 3, nil},
	} {
		if err := n.SetHeapReplicas(ctx, c.heap, c.replicas); !errors.Is(err, c.want) || c.want == nil && err != nil {
			t.Errorf("SetHeapReplicas(%q, %d): %v, want %v", c.heap, c.replicas, err, c.want)
		}
	}
	if after := catalogIndex(); after != before {
		t.Errorf("the catalog committed %d entries for changes refused or of nothing", after-before)
	}
	if err := n.SetHeapReplicas(ctx, "h", 5); err != nil {
		t.Fatal(err)
	}
	for _, hs := range n.Heaps() {
		if hs.Name == "h" && (hs.Replicas != 5 || len(hs.Voters) != 1) {
			t.Errorf("h after the change: %d replicas, voters %v; want 5 and the one node", hs.Replicas, hs.Voters)
		}
	}
}
