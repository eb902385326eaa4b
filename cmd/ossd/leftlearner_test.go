package main

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// A client node stopped with SIGTERM leaves its groups at once, as
// README promises of "a node stopped with SIGINT or SIGTERM": its
// learner replicas, of its heap and of the catalog, are removed without
// waiting for --replace-after (an hour here). A leader removed a learner
// only while membership showed it leaving; one that had not seen that
// before the node was gone (the catalog's, mostly: the node leaves as
// soon as it holds no vote) timed it as a failure, and `ossd status`
// listed the node under LEARNERS, "not live", for --replace-after.
func TestStoppedClientLeavesItsGroupsAtOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	c.Flags = append(c.Flags, "--replace-after", "1h")
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	var servers []*ossdtest.Proc
	for _, name := range []string{"n2", "n3"} {
		p, err := c.Start(ctx, name, n1)
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, p)
	}
	putBank(t, c, n1)
	c1 := startClient(t, ctx, c, "c1", n1)
	if err := dispatch([]string{"get", "bank", "motd", "--http", c1.HTTP, "--certs", c.Certs()}); err != nil {
		t.Fatalf("get on the client node: %v", err)
	}
	waitFor(t, "c1 to be a learner of bank and of the catalog", func() bool {
		return len(groupsListing(ctx, n1, "c1")) == 2
	})
	if err := c1.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c1's groups to remove it", func() bool {
		return len(groupsListing(ctx, n1, "c1")) == 0
	})
	for _, p := range append(servers, n1) {
		if err := p.Stop(time.Minute); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// startClient issues a client certificate for name, grants it read on
// every heap and starts it as a client node joining through join.
func startClient(t *testing.T, ctx context.Context, c *ossdtest.Cluster, name string, join *ossdtest.Proc) *ossdtest.Proc {
	t.Helper()
	p, err := c.Reserve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, c.Bin, "cert", "issue", "--dir", c.Certs(), "--name", name, "--role", "client", "--force").CombinedOutput(); err != nil {
		t.Fatalf("cert issue: %v\n%s", err, out)
	}
	if err := dispatch([]string{"acl", "grant", "--to", name, "--heap", "*", "--perm", "read", "--http", join.HTTP, "--certs", c.Certs()}); err != nil {
		t.Fatal(err)
	}
	p, err = c.RestartWith(ctx, p, []string{"--role", "client"}, join)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// putBank writes a root of the heap "bank" through p, creating the heap.
func putBank(t *testing.T, c *ossdtest.Cluster, p *ossdtest.Proc) {
	t.Helper()
	if err := dispatch([]string{"put", "bank", "motd", `{"text": "hello"}`, "--http", p.HTTP, "--certs", c.Certs()}); err != nil {
		t.Fatalf("put: %v", err)
	}
}

// groupsListing returns the groups whose voters or learners, as p's
// status has them, name node.
func groupsListing(ctx context.Context, p *ossdtest.Proc, node string) []string {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := p.Status(sctx)
	if err != nil {
		return []string{"(no status: " + err.Error() + ")"}
	}
	var out []string
	for _, h := range st.Heaps {
		if slices.Contains(h.Learners, node) || slices.Contains(h.Voters, node) || slices.ContainsFunc(h.Learners, func(s string) bool { return strings.HasPrefix(s, node+"/") }) {
			out = append(out, h.Name)
		}
	}
	return out
}
