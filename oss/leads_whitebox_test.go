package oss

import (
	"context"
	"slices"
	"testing"
	"time"
)

// A node that leads the catalog is said to in the status (Member.Leads,
// ossd status's LEADS, the dashboard), as of every other heap it leads:
// the status listed oss:catalog among the heaps with its leader, and
// that leader's LEADS left it out.
func TestLeadsNamesTheCatalog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := newQUICCluster(t, "a").nodes["a"]
	if _, err := n.CreateHeap(ctx, "h", nil); err != nil {
		t.Fatal(err)
	}
	var leads []string
	for !slices.Contains(leads, "h") { // once its replica knows it leads
		select {
		case <-ctx.Done():
			t.Fatalf("a's Leads never named the heap it leads: %v", leads)
		case <-time.After(50 * time.Millisecond):
		}
		leads = n.Status(ctx).Members[0].Leads
	}
	if !slices.Contains(leads, catalogName) {
		t.Fatalf("a leads the catalog and h; its Leads: %v", leads)
	}
}
