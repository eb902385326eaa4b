package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A node whose NODE_ID was replaced while it was down, by another
// node's or by any other valid ID, refuses to start and names the file.
// It used to start: its peers refused every replica it asked them to take
// back ("raft ID ... is node "n2"'s, not "n3"'s", in its log only), and
// it ran on, listed as a member, following nothing.
func TestRunRefusesAnotherNodesID(t *testing.T) {
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
	waitFor(t, "three voters of the catalog", func() bool {
		st, err := n1.Status(ctx)
		return err == nil && len(heapStatus(t, st, "oss:catalog").Voters) == 3
	})
	if err := dispatch([]string{"put", "--http", n1.HTTP, "--certs", c.Certs(), "h", "r", "1"}); err != nil {
		t.Fatal(err)
	}
	n3.Kill()
	idFile := filepath.Join(c.DataDir("n3"), "NODE_ID")
	own, err := os.ReadFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	n2ID, err := os.ReadFile(filepath.Join(c.DataDir("n2"), "NODE_ID"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ what, id, want string }{
		{"n2's", string(n2ID), `node "n2"'s`},
		{"an ID of no node", "0123456789abcdef\n", "the file is not the one this node ran with"},
	} {
		if err := os.WriteFile(idFile, []byte(tc.id), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := c.Restart(ctx, n3, n1)
		if err == nil {
			p.Kill()
			t.Fatalf("n3 started with %s NODE_ID", tc.what)
		}
		if msg := err.Error(); !strings.Contains(msg, idFile) || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "--rebuild-replica") {
			t.Fatalf("n3 on %s NODE_ID: want an error naming %s, saying %q and the remedy; got %v", tc.what, idFile, tc.want, err)
		}
	}
	if err := os.WriteFile(idFile, own, 0o600); err != nil {
		t.Fatal(err)
	}
	if n3, err = c.Restart(ctx, n3, n1); err != nil {
		t.Fatalf("n3 on its own NODE_ID again: %v", err)
	}
	waitFor(t, "n3 back in the catalog's group", func() bool {
		st, err := n3.Status(ctx)
		return err == nil && heapStatus(t, st, "oss:catalog").ReplicaApplied["n3"] > 0 && len(st.Members) == 3
	})
}
