package oss

import (
	"errors"
	"testing"
	"time"
)

// TestPatienceCountsOnlyRunsThatCommit: a holder's patience follows the
// runs of its function that returned nil. A run that ends in an error
// (ErrRetry, asking to wait for a change, returns at once) is not a run
// made before a commit; counted, it would bring a function that takes
// 30 ms whenever it commits down to the floor, and its waiters would give
// up on every such run. The durations only grow with a loaded machine, so
// the bound asserted holds however slowly the test runs.
func TestPatienceCountsOnlyRunsThatCommit(t *testing.T) {
	const slow = 40 * time.Millisecond
	gh := &gateHold{gs: &gates{}}
	quick := func(*Tx) error { return errors.New("not yet") }
	long := func(*Tx) error { time.Sleep(slow); return nil }
	for range 3 {
		if err := gh.call(&Tx{txState: &txState{}}, quick); err == nil {
			t.Fatal("a function's error was lost")
		}
	}
	if p := gh.patience(); p != fnPatience {
		t.Errorf("after runs that all failed: patience %v, want %v (nothing measured)", p, fnPatience)
	}
	if err := gh.call(&Tx{txState: &txState{}}, long); err != nil {
		t.Fatal(err)
	}
	if err := gh.call(&Tx{txState: &txState{}}, quick); err == nil {
		t.Fatal("a function's error was lost")
	}
	if p, least := gh.patience(), min(fnPatience, patienceRuns*slow); p < least {
		t.Errorf("a function that ran %v when it returned nil, and failed fast once: patience %v, want at least %v", slow, p, least)
	}
}
