package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// Probes of "ossd run" stopped by signals: SIGTERM or SIGINT during its
// start, two in a row, during a burst of admin requests. Each time it
// exits with status 0 (or a clear error), and its data directory starts
// again.

// exits waits for p to exit and returns how it did; a hang fails the test
// at the bound, with the node's log.
func exits(t *testing.T, p *ossdtest.Proc) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := p.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		p.Kill()
		t.Fatalf("%s did not exit after the signal; log:\n%s", p.Name, p.Tail(40))
	}
	return err
}

// diedBefore reports whether p died of sig before it wrote a line: a
// signal that comes while the Go runtime and the packages initialise,
// before run can catch it (some 16 ms on an idle machine), ends the
// process as it ends any program that has not yet asked for it, before it
// has touched its data directory.
func diedBefore(err error, p *ossdtest.Proc, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig && strings.TrimSpace(p.Tail(5)) == ""
}

func TestRunSignalledWhileStarting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx) // startorder_test.go
	delays := []time.Duration{0, 20 * time.Millisecond, 150 * time.Millisecond}
	if os.Getenv("OSS_LONG") != "" {
		delays = append(delays, 5*time.Millisecond, 50*time.Millisecond, 400*time.Millisecond, time.Second)
	}
	nobody, err := c.Reserve(ctx, "nobody") // a Join no member answers at
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range delays {
		for _, twice := range []bool{false, true} {
			joining := twice == (i%2 == 0) // half of them wait to join
			sig := syscall.SIGTERM
			if i%2 == 1 {
				sig = syscall.SIGINT
			}
			name := fmt.Sprintf("s%d%v", i, twice)
			var join []*ossdtest.Proc
			if joining {
				join = append(join, nobody)
			}
			p, err := c.Launch(ctx, name, join...)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(d) // a point in the start, not a bound
			p.Signal(sig)
			if twice {
				p.Signal(sig)
			}
			if err := exits(t, p); err != nil && !diedBefore(err, p, sig) {
				t.Errorf("%s after %v after %v (twice %v): %v; log:\n%s", name, sig, d, twice, err, p.Tail(20))
			}
			if joining {
				continue // it never joined: nothing to start again on
			}
			q, err := c.Restart(ctx, p)
			if err != nil {
				t.Fatalf("restart on the data directory of %s: %v", name, err)
			}
			q.Signal(syscall.SIGTERM)
			if err := exits(t, q); err != nil {
				t.Errorf("%s restarted, then SIGTERM: %v; log:\n%s", name, err, q.Tail(20))
			}
		}
	}
}

func TestRunSignalledDuringAdminBurst(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx) // startorder_test.go
	p, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateHeap(ctx, "kv", 1); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
				switch (i + j) % 4 {
				case 0:
					p.Status(rctx)
				case 1:
					p.PutRoot(rctx, "kv", fmt.Sprintf("r%d", i), j)
				case 2:
					p.Heaps(rctx)
				case 3:
					p.Root(rctx, "kv", fmt.Sprintf("r%d", i), true)
				}
				rcancel()
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // let the burst run; not a bound
	p.Signal(syscall.SIGTERM)
	p.Signal(syscall.SIGTERM)
	err = exits(t, p)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Errorf("after SIGTERM twice under a burst: %v; log:\n%s", err, p.Tail(30))
	}
	q, err := c.Restart(ctx, p)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if _, err := q.Root(ctx, "kv", "r0", true); err != nil {
		t.Errorf("root after the restart: %v", err)
	}
	q.Signal(syscall.SIGINT)
	if err := exits(t, q); err != nil {
		t.Errorf("restarted, then SIGINT: %v; log:\n%s", err, q.Tail(20))
	}
}
