package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// With two of a heap's three voters killed, "put" and "get --fresh" on
// the third say which voters are down and what brings the heap back; they
// said only that the heap "has no leader in reach".
func TestNoQuorumNamesTheVotersDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx) // startorder_test.go
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Start(ctx, "n2", n1)
	if err != nil {
		t.Fatal(err)
	}
	n3, err := c.Start(ctx, "n3", n1)
	if err != nil {
		t.Fatal(err)
	}
	cli := func(p *ossdtest.Proc, args ...string) error {
		return dispatch(append(args, "--http", p.HTTP, "--certs", c.Certs()))
	}
	if err := cli(n1, "heaps", "create", "h", "--replicas", "3"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "h's three voters", func() bool {
		st, err := n1.Status(ctx)
		return err == nil && len(heapStatus(t, st, "h").Voters) == 3
	})
	n2.Kill()
	n3.Kill()
	waitFor(t, "n1 to see n2 and n3 gone", func() bool {
		st, err := n1.Status(ctx)
		return err == nil && len(st.Members)+len(st.Unreachable) >= 1 && len(st.Members)-len(st.Unreachable) == 1
	})
	for _, args := range [][]string{{"put", "h", "r", "1"}, {"get", "h", "r", "--fresh"}} {
		err := cli(n1, args...)
		if err == nil || !strings.Contains(err.Error(), "n2 and n3 are not live members") || !strings.Contains(err.Error(), "start at least 1 of n2, n3 again") {
			t.Errorf("ossd %v with two of three voters down: %v", args, err)
		}
	}
}
