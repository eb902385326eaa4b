package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// An outsider's probes of the demo's command line.

// Flags the tour cannot run with, and words left over, are refused
// before anything is built or started.
func TestProbeOptionsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"extra"},
		{"-load", "2s", "-keep", "now"},
		{"-workers", "0"},
		{"-accounts", "1"},
		{"-load", "-1s"},
		{"-replace-after", "0"},
		{"-bogus"},
	} {
		if _, err := parseOptions(args); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
	o, err := parseOptions([]string{"-load", "20s", "-keep"})
	if err != nil || o.load.Seconds() != 20 || !o.keep || o.workers != 4 || o.accounts != 20 {
		t.Errorf("-load 20s -keep: %+v, %v", o, err)
	}
}

// A tour interrupted while it waits for the bank's group says it was
// interrupted, not that the group failed to get there.
func TestProbeInterruptedWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&tour{}).waitGroup(ctx, func(oss.HeapStatus) bool { return true })
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "within a minute") {
		t.Fatalf("waitGroup with an ended context: %v", err)
	}
}
