package oss

import (
	"context"
	"testing"
	"time"
)

// TestGatePatienceFollowsTheHoldersRuns: a gate's waiters wait for a
// holder running its function for patienceRuns times the holder's
// shortest run so far, at least patienceFloor and at most fnPatience
// (fnPatience before any run). A holder whose function ran in a
// microsecond and now has run for patienceFloor is stuck: its waiters go
// on without the gate (they waited fnPatience, whatever the function
// took before). No assertion here depends on how fast the test runs:
// the holder's run is dated back, and time only adds to it.
func TestGatePatienceFollowsTheHoldersRuns(t *testing.T) {
	var gh gateHold
	if p := gh.patience(); p != fnPatience {
		t.Errorf("before any run: patience %v, want %v", p, fnPatience)
	}
	for _, c := range []struct {
		runs []time.Duration
		want time.Duration
	}{
		{[]time.Duration{time.Microsecond}, patienceFloor},
		{[]time.Duration{20 * time.Millisecond}, 80 * time.Millisecond},
		{[]time.Duration{time.Second}, fnPatience},
		// A run that waited (on its own nested Update, say) does not
		// raise the patience: the shortest run counts.
		{[]time.Duration{10 * time.Millisecond, 200 * time.Millisecond, 30 * time.Millisecond}, 40 * time.Millisecond},
		{[]time.Duration{time.Second, time.Microsecond}, patienceFloor},
	} {
		var gh gateHold
		for _, d := range c.runs {
			gh.ran(d)
		}
		if p := gh.patience(); p != c.want {
			t.Errorf("runs %v: patience %v, want %v", c.runs, p, c.want)
		}
	}

	gs := &gates{}
	k := hotKey{root: "hot"}
	if held, err := gs.acquire(context.Background(), nil, k, 1); !held || err != nil {
		t.Fatalf("the first acquire: %v, %v", held, err)
	}
	holder := gateHold{gs: gs, keys: []hotKey{k}}
	holder.ran(time.Microsecond)
	holder.setRunning(true, time.Now().Add(-patienceFloor))
	gs.mu.Lock()
	stuck, _, _ := gs.m[k].stuck()
	gs.mu.Unlock()
	if !stuck {
		t.Fatalf("a holder whose function ran in %v has run it for %v and is not stuck", time.Microsecond, patienceFloor)
	}
	// A waiter goes on without the gate, and the holder keeps it.
	if held, err := gs.acquire(context.Background(), nil, k, 0); held || err != nil {
		t.Errorf("a waiter on a stuck holder: held %v, %v; want it to go on without the gate", held, err)
	}
	holder.setRunning(false, time.Now())
	holder.drop()
	if gs.n.Load() != 0 {
		t.Errorf("%d gates left after the holder dropped its own", gs.n.Load())
	}
}
