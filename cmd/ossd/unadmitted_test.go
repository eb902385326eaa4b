package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// "ossd run --join" pointed at the wrong cluster first, whose catalog
// cannot take it in (two of its three servers down), and interrupted
// while it waits (it took that cluster's ID), exits 0 leaving no
// cluster ID in its data directory (its NODE_ID stays); run again with --join naming the
// right cluster, it joins. It was refused as a member of the first
// cluster, its CLUSTER to be removed by hand.
func TestRunWrongClusterFirstThenTheRightOneJoins(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx) // startorder_test.go, one CA for both clusters
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	m1, err := c.Start(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	var ms []*ossdtest.Proc
	for _, name := range []string{"m2", "m3"} {
		p, err := c.Start(ctx, name, m1)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, p)
	}
	waitFor(t, "m1, m2 and m3 voters of m's catalog", func() bool {
		st, err := m1.Status(ctx)
		return err == nil && strings.Join(heapStatus(t, st, "oss:catalog").Voters, ",") == "m1,m2,m3"
	})
	for _, p := range ms {
		p.Kill()
	}

	b, err := c.Launch(ctx, "b", m1)
	if err != nil {
		t.Fatal(err)
	}
	dir := c.DataDir("b")
	waitFor(t, "b to take m's cluster ID", func() bool {
		_, err := os.Stat(filepath.Join(dir, "CLUSTER"))
		return err == nil
	})
	if err := b.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := b.Wait(ctx); err != nil {
		t.Fatalf("b interrupted while it joins: %v, want exit status 0; log:\n%s", err, b.Tail(20))
	}
	for _, name := range []string{"CLUSTER", "DRAWN_CLUSTER"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the interrupted start left %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "NODE_ID")); err != nil {
		t.Errorf("the interrupted start did not keep NODE_ID: %v", err)
	}
	b, err = c.Restart(ctx, b, n1)
	if err != nil {
		t.Fatalf("b joining the right cluster after the interrupted start: %v", err)
	}
	waitFor(t, "b a member of n1's cluster", func() bool {
		st, err := n1.Status(ctx)
		if err != nil {
			return false
		}
		for _, m := range st.Members {
			if m.Name == "b" {
				return true
			}
		}
		return false
	})
}

// "ossd run --join" killed (SIGKILL) once it took the cluster's ID,
// before or after the catalog took it in, and run again with the same
// --join, gets in: a kill takes nothing back, and the identity it kept
// is the one to join under.
func TestRunKilledWhileJoiningGetsInWithTheSameJoin(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Launch(ctx, "b", n1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to take the cluster's ID", func() bool {
		_, err := os.Stat(filepath.Join(c.DataDir("b"), "CLUSTER"))
		return err == nil
	})
	b.Kill()
	if _, err := c.Restart(ctx, b, n1); err != nil {
		t.Fatalf("b run again with the same --join after a kill: %v", err)
	}
}
