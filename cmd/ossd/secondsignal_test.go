package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second SIGTERM while "ossd run" leaves closes the node at once, as
// its log line promises, and the process exits with status 0, saying it
// closed without the hand-over: the user asked for a stop and got one,
// its data directory closed whole. Before, the node closed at once as
// well, but the cut hand-over was reported as run's failure ("ossd: run:
// oss: close: the hand-over or the leave was cut short: context
// canceled") and the process exited 1. The node's only peer is paused
// (SIGSTOP), so that the hand-over and the leave wait on it for seconds,
// and the second signal comes while they do.
func TestRunSecondSignalClosesAtOnceWithStatus0(t *testing.T) {
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
	defer func() {
		if t.Failed() {
			t.Logf("n1:\n%s", n1.Tail(30))
		}
	}()
	if err := n2.Pause(); err != nil {
		t.Fatal(err)
	}
	defer n2.Resume()
	if err := n1.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1 to begin its leave", func() bool { return strings.Contains(n1.Tail(20), "leaving: handing replicas over") })
	if err := n1.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("second SIGTERM: %v (n1 had exited already)", err)
	}
	// As long as waitFor waits: a bound against a hang.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer wcancel()
	if err := n1.Wait(wctx); err != nil {
		t.Fatalf("n1 after a second SIGTERM: %v, want exit status 0", err)
	}
	if log := n1.Tail(20); !strings.Contains(log, "closed at once on a second signal") || strings.Contains(log, "ossd: run:") {
		t.Fatalf("n1's log after a second SIGTERM does not say it closed at once, or says run failed:\n%s", log)
	}
}
