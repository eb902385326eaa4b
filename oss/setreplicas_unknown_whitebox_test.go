package oss

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// TestSetHeapReplicasUnknownOutcome: a node whose change of a heap's
// factor reached the catalog's leader, and which then heard nothing more,
// reports the outcome unknown (ErrCommitUnknown), not a failure: the
// leader committed it, and once the node hears the cluster again its
// catalog has the new factor and a change to it again writes nothing.
func TestSetHeapReplicasUnknownOutcome(t *testing.T) {
	t.Parallel()
	c, deaf, armed := deafNodes(t, 49, false)
	untilLeader(t, "create made", func(ctx context.Context) error {
		_, err := c.nodes["a"].CreateHeapIfNotExists(ctx, "made", &HeapOptions{Replicas: 3})
		return err
	})
	lead, x := waitCatalogKnown(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // a bound against a hang
	defer cancel()
	armed.Store(&x) // deaf once its proposal reached another node
	err := c.nodes[x].SetHeapReplicas(ctx, "made", 5)
	deaf[x].Store(false)
	if !errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("SetHeapReplicas on a node deaf once it proposed: %v, want ErrCommitUnknown", err)
	}
	waitCond(t, "the leader's catalog to hold the factor 5", func() bool {
		e, ok := c.nodes[lead].catalogEntry("made")
		return ok && e.Replicas == 5
	})
	setReplicas(t, c.nodes[x], "made", 5)
	if e, ok := c.nodes[x].catalogEntry("made"); !ok || e.Replicas != 5 {
		t.Fatalf("%s's catalog after the change again: %+v, %v", x, e, ok)
	}
}
