package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// "ossd status" says of a heap of one replica whose server died, and
// with it every replica, that no replica of it answered: it listed the
// heap with no voters and no leader, and no short: line, as if nothing
// were amiss. The node that created the heap keeps a learner of it
// unless it is the voter, so it goes too; five nodes keep the catalog's
// quorum with two gone.
func TestStatusSaysNoReplicaOfAHeapAnswered(t *testing.T) {
	c := osstest.Start(t, 5, nil)
	ctx := context.Background()
	if _, err := c.Node("n1").CreateHeap(ctx, "solo", &oss.HeapOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	var voter string
	c.Wait("solo to have its voter in n1's status", func() bool {
		for _, h := range c.Node("n1").Status(ctx).Heaps {
			if h.Name == "solo" && len(h.Voters) == 1 {
				voter = h.Voters[0]
				return true
			}
		}
		return false
	})
	observer := "n2"
	if voter == observer {
		observer = "n3"
	}
	c.Kill(voter)
	if voter != "n1" {
		c.Kill("n1")
	}
	c.Wait("solo to be short, no replica answered, in "+observer+"'s status", func() bool {
		for _, h := range c.Node(observer).Status(ctx).Heaps {
			if h.Name == "solo" {
				return h.Short != nil && h.Short.Why == oss.NoReplicaAnswered
			}
		}
		return false
	})
	srv, err := admin.NewServer(c.Node(observer), &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	var out bytes.Buffer
	if err := statusTo(&out, []string{"--http", srv.Addr(), "--http-insecure"}); err != nil {
		t.Fatal(err)
	}
	want := "short: heap solo has no replica that answered (it wants 1 voter;"
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "bring one back") {
		t.Fatalf("ossd status:\n%s\nwant %q", out.String(), want)
	}
}
