package main

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// A tour interrupted while it compares the replicas (Ctrl-C once "load
// stopped" shows) ends with the interrupt. It went on asking the nodes,
// which failed at once on the ended context, for the whole 20 s its
// comparison allows, busy, and then said that the replicas did not reach
// the same index.
func TestInterruptedReplicaCheckEndsAtOnce(t *testing.T) {
	c, err := admin.NewClient("127.0.0.1:1", &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr := &tour{live: []*ossdtest.Proc{{Name: "n1", Client: c}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.sameState(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("sameState with an ended context: %v, want the interrupt", err)
	}
}
