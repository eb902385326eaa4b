package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A node whose CLUSTER file was replaced by another cluster's while it
// was down is refused by its members, and "ossd run" names the file: the
// refusal said only that a node started without --join on an empty data
// directory makes a cluster of its own, which this node, restarted on
// its data directory with --join, did not do.
func TestRunNamesTheClusterFileOfAnotherCluster(t *testing.T) {
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
	other := startOrderCluster(t, ctx)
	x1, err := other.Start(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	x1.Kill()
	foreign, err := os.ReadFile(filepath.Join(other.DataDir("x1"), "CLUSTER"))
	if err != nil {
		t.Fatal(err)
	}
	n2.Kill()
	file := filepath.Join(c.DataDir("n2"), "CLUSTER")
	if err := os.WriteFile(file, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := c.Restart(ctx, n2, n1)
	if err == nil {
		p.Kill()
		t.Fatal("n2 started on another cluster's CLUSTER file")
	}
	if msg := err.Error(); !strings.Contains(msg, "another cluster") || !strings.Contains(msg, file) {
		t.Fatalf("n2 on another cluster's CLUSTER file: want the refusal naming %s; got %v", file, err)
	}
}
