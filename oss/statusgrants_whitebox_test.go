package oss

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// A status call answers a client's peer only the replicas of the heaps
// it may read. It answered every peer every replica of the node: a
// client granted nothing learned each heap's applied index (how often
// it is written), its group and why a replica was lost or stuck. A
// server's call, which gathers the status for an operator, still gets
// every replica.
func TestStatusCallShowsAClientOnlyWhatItMayRead(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b")
	a := c.nodes["a"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, heap := range []string{"bank", "vault"} {
		untilLeader(t, "create "+heap, func(ctx context.Context) error {
			_, err := a.CreateHeapIfNotExists(ctx, heap, nil)
			return err
		})
	}
	mustGrant(t, a, Grant{Who: "app", Heap: "bank", Perm: PermRead})
	app := c.startRole("app", pki.RoleClient)
	heapsOf := func(from *Node) []string {
		t.Helper()
		req, _ := codec.Marshal(callRequest{Op: opStatus})
		b, err := from.tr.Call(ctx, "a", req)
		if err != nil {
			t.Fatalf("%s's status call: %v", from.Name(), err)
		}
		var reps []replicaStatus
		if err := codec.Unmarshal(b, &reps); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range reps {
			names = append(names, r.Heap)
		}
		slices.Sort(names)
		return names
	}
	if got, want := heapsOf(app), []string{"bank", catalogName}; !slices.Equal(got, want) {
		t.Errorf("the client app, granted read on bank alone, was told of the replicas %q; want %q", got, want)
	}
	if got := heapsOf(c.nodes["b"]); !slices.Contains(got, "vault") || !slices.Contains(got, "bank") {
		t.Errorf("the server b was told of the replicas %q; want every one of a's, vault and bank among them", got)
	}
}
