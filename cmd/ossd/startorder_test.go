package main

import (
	"context"
	"github.com/objectsharing/oss/oss/osstest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// startOrderCluster makes a cluster CA for the ossd TestMain built.
func startOrderCluster(t *testing.T, ctx context.Context) *ossdtest.Cluster {
	t.Helper()
	dir := t.TempDir()
	bin := ossdBin
	c, err := ossdtest.New(ctx, dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Flags = []string{"--gossip", "loopback"}
	return c
}

// Nodes start in any order: one whose --join names a node not yet
// started waits for it, saying so, and joins once it is up. It used to
// exit at once ("no member answered"), so a service manager that started
// the nodes together, or a whole cluster restarting, needed them started
// in order.
func TestRunJoinWaitsForItsMember(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	n1, err := c.Reserve(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	type started struct {
		p   *ossdtest.Proc
		err error
	}
	res := make(chan started, 1)
	go func() {
		p, err := c.Start(ctx, "n2", n1)
		res <- started{p, err}
	}()
	log2 := filepath.Join(c.Dir, "n2.log")
	waitFor(t, "n2 to say it waits for n1", func() bool {
		b, _ := os.ReadFile(log2)
		select {
		case r := <-res:
			t.Fatalf("n2 ended its start before n1 was up: %v\n%s", r.err, b)
		default:
		}
		return strings.Contains(string(b), "cannot join the cluster yet")
	})
	if n1, err = c.Restart(ctx, n1); err != nil {
		t.Fatal(err)
	}
	r := osstest.Recv(t, res, "n2's start once n1 was up")
	if r.err != nil {
		t.Fatalf("n2 once n1 was up: %v", r.err)
	}
	st, err := r.p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Members) != 2 {
		t.Errorf("n2's members: %+v, want n1 and n2", st.Members)
	}
}

// A node waiting to join stops on SIGINT with exit status 0, saying it
// stopped before it joined: the user asked for it, nothing failed.
func TestRunStoppedWhileWaitingToJoin(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	nobody, err := c.Reserve(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reserve(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	cmd, out, done := runWaitingToJoin(t, ctx, c, "n2", "127.0.0.1:0", "", nobody.Addr)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = osstest.Recv(t, done, "ossd run to stop while it waited to join")
	if err != nil {
		t.Fatalf("ossd run stopped while waiting to join: %v, want exit status 0\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "stopped before the node joined the cluster") {
		t.Errorf("ossd run stopped while waiting to join said:\n%s", out.String())
	}
}
