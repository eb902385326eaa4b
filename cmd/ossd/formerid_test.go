package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// A node whose data directory was lost and that joined again under its
// name gets a new raft ID; its old one stays a voter of its groups until
// it is replaced (--replace-after). ossd status named both "n3", VOTERS
// n1,n2,n3 beside LEARNERS n3, and said nothing of a voter down while
// the heaps were one failure from stopping: the old incarnation is now
// named NAME/RAFTID, no live member, so the status says it is down.
func TestStatusNamesAFormerIncarnationDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx) // startorder_test.go
	c.Flags = append(c.Flags, "--replace-after", "1h")
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
	if err := dispatch([]string{"put", "--http", n1.HTTP, "--certs", c.Certs(), "h", "r", "1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n3 a voter of h", func() bool {
		st, err := n1.Status(ctx)
		return err == nil && strings.Join(heapStatus(t, st, "h").Voters, ",") == "n1,n2,n3"
	})
	n3.Kill()
	if err := os.RemoveAll(c.DataDir("n3")); err != nil {
		t.Fatal(err)
	}
	if _, err = c.Restart(ctx, n3, n1); err != nil {
		t.Fatal(err)
	}
	var out string
	defer func() {
		if t.Failed() {
			t.Log(out)
		}
	}()
	waitFor(t, "the new n3 a learner of the catalog", func() bool {
		st, err := n1.Status(ctx)
		if err != nil {
			return false
		}
		var b bytes.Buffer
		printStatus(&b, &st)
		out = b.String()
		return strings.Join(heapStatus(t, st, "oss:catalog").Learners, ",") == "n3"
	})
	if !strings.Contains(out, "down: n3/") || !strings.Contains(out, "a voter of oss:catalog, h,") {
		t.Fatalf("ossd status while n3's former raft ID is a voter and the new n3 a learner:\n%s\nwant a down: line for n3's former incarnation", out)
	}
}
