package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// A node whose certificate is revoked while it runs says so to the
// operator: its status begins with the revocation, and every request of
// the API but the status is refused with it (503, "revoked"), so a
// client given several nodes goes on to the next. The node kept serving:
// its status showed the others as down ("start at least 1 of n1, n2
// again"), its reads were as old as the revocation, and a put waited out
// its 10 s to fail for want of a quorum, naming the wrong remedy.
func TestRevokedNodeRefusesAdminRequests(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx) // startorder_test.go
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "n2", n1); err != nil {
		t.Fatal(err)
	}
	n3, err := c.Start(ctx, "n3", n1)
	if err != nil {
		t.Fatal(err)
	}
	put := func(http string) error {
		return dispatch([]string{"put", "--http", http, "--certs", c.Certs(), "h", "r", "1"})
	}
	if err := put(n1.HTTP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n3 to hold the heap", func() bool {
		st, err := n3.Status(ctx)
		return err == nil && heapStatus(t, st, "h").ReplicaApplied["n3"] > 0
	})
	if err := dispatch([]string{"cert", "revoke", "n3", "--http", n1.HTTP, "--certs", c.Certs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n3 to say that it is revoked", func() bool {
		st, err := n3.Status(ctx)
		return err == nil && strings.Contains(st.Revoked, "revoked")
	})
	err = put(n3.HTTP)
	if !errors.Is(err, oss.ErrRevoked) || !strings.Contains(err.Error(), `node "n3"`) {
		t.Fatalf("a put through the revoked n3: want its revocation; got %v", err)
	}
	if err := dispatch([]string{"get", "--http", n3.HTTP, "--certs", c.Certs(), "h", "r"}); !errors.Is(err, oss.ErrRevoked) {
		t.Fatalf("a get through the revoked n3: want its revocation; got %v", err)
	}
	if err := put(n3.HTTP + "," + n1.HTTP); err != nil {
		t.Fatalf("a put through n3, then n1: want it taken by n1; got %v", err)
	}
}
