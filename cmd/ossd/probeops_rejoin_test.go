package main

import (
	"context"
	"github.com/objectsharing/oss/oss/osstest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// A whole cluster killed at once and started again as README starts it
// (n1 without --join, n2 and n3 joining through n1) comes back as one
// cluster whatever the order its nodes come up in. When n2 and n3 came
// up first they found each other (n2's --join names n1, which was down,
// but its peer book names n3), and n1, started without --join, knew
// nobody in this life: it stayed a cluster of its own for good, every
// heap leaderless on it, until it tries the servers it last saw.
func TestWholeClusterRestartBootstrapNodeLast(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
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
	seesAll := func(p *ossdtest.Proc) func() bool {
		return func() bool {
			st, err := p.Status(ctx)
			return err == nil && len(st.Members) == 3 && len(st.Unreachable) == 0
		}
	}
	for _, p := range []*ossdtest.Proc{n1, n2, n3} {
		waitFor(t, p.Name+" to see three members", seesAll(p))
	}
	// The peer books are written at most every second: wait until each
	// names the two others.
	for _, p := range []*ossdtest.Proc{n1, n2, n3} {
		waitFor(t, p.Name+"'s peer book", func() bool { return peerBookLen(c.DataDir(p.Name)) == 2 })
	}
	for _, p := range []*ossdtest.Proc{n1, n2, n3} {
		p.Kill()
	}
	type restarted struct {
		p   *ossdtest.Proc
		err error
	}
	res := make(chan restarted, 2)
	for _, p := range []*ossdtest.Proc{n2, n3} {
		go func() {
			q, err := c.Restart(ctx, p, n1)
			res <- restarted{q, err}
		}()
	}
	for range 2 {
		r := osstest.Recv(t, res, "the restarted nodes' runs to start")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.p.Name == "n2" {
			n2 = r.p
		}
	}
	waitFor(t, "n2 to see n3", func() bool {
		st, err := n2.Status(ctx)
		return err == nil && len(st.Members) == 2
	})
	if n1, err = c.Restart(ctx, n1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1, started without --join after n2 and n3, to see them", seesAll(n1))
	if err := dispatch([]string{"put", "--http", n1.HTTP, "--certs", c.Certs(), "after", "r", "1"}); err != nil {
		t.Fatalf("a put through n1 once the cluster is whole again: %v", err)
	}
}

// peerBookLen returns how many servers the peer book (PEERS) in dir names.
func peerBookLen(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "PEERS"))
	if err != nil {
		return 0
	}
	return len(strings.Fields(string(b))) / 2
}
