package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/check"
)

// outcomeCaught runs seeds from first until one reports an anomaly of
// kind in a heap whose name starts with heap, and returns it.
func outcomeCaught(t *testing.T, first, seeds uint64, opts Options, kind, heap string) check.Anomaly {
	t.Helper()
	for seed := first; seed < first+seeds; seed++ {
		res, err := runShared(t, seed, opts)
		if err != nil {
			t.Fatalf("%v; replay with: go test ./internal/testkit/sim -run '%s' -sim.seed %d", err, t.Name(), seed)
		}
		i := slices.IndexFunc(res.Anomalies, func(a check.Anomaly) bool {
			return a.Kind == kind && strings.HasPrefix(a.Explain, "heap "+heap)
		})
		if i >= 0 {
			t.Logf("seed %d", seed)
			return res.Anomalies[i]
		}
	}
	t.Fatalf("no seed of %d from %d reported %s in heap %s", seeds, first, kind, heap)
	return check.Anomaly{}
}

// Every commit's outcome, as its client was told it, is held against the
// decisions of its group once the run is over and still: told committed,
// it was decided committed; told failed, no replica decided it committed,
// then or later. The catalog's commits (heaps created and dropped) are
// held so too, and so are those of heaps dropped before the end, which no
// final read sees.
//
// The runs start at seeds a little before the first that shows each (59,
// 67 and 11): a catalog change abandoned while raft held it is rare.
func TestToldOutcomesHeldAgainstDecisions(t *testing.T) {
	a := outcomeCaught(t, 50, 100, faulty(Mutations{AbandonedFailed: true}), "told-failed-committed", "oss:catalog")
	t.Logf("a catalog change told failed: %s", a)
	a = outcomeCaught(t, 60, 100, faulty(Mutations{AbandonedFailed: true}), "told-failed-committed", "h")
	t.Logf("a heap commit told failed: %s", a)
	a = outcomeCaught(t, 1, 100, faulty(Mutations{AbandonedCommitted: true}), "told-committed-not-committed", "")
	t.Logf("a commit told committed: %s", a)
}

// Impatient clients give up on commits at every stage of their way: a
// proposal given up while queued and proposed all the same is seen in
// the first seed of two seconds (without them, in 2 of 800: seeds 354
// and 605), and so are abandoned proposals told failed or committed.
func TestImpatientClientsFindAbandonedCommitsAtOnce(t *testing.T) {
	for _, m := range []Mutations{{AbandonedLeftQueued: true}, {AbandonedFailed: true}, {AbandonedCommitted: true}} {
		opts := Options{Faults: true, Duration: 2 * time.Second, Impatient: true, Mutations: m}
		t.Logf("%+v: %s", m, caught(t, 3, opts, "impatient clients with an abandoned commit reported wrong"))
	}
}

// A closed engine answers each proposal it held: unknown if raft took
// it, a definite failure if raft never did (no leader known since it
// came). Told that every one failed, clients of closed engines see their
// commits applied: first in seed 16, and in 29 since the election clock
// (engine, slowdown.go) changed the runs.
func TestClosedEnginesAnswerWhatRaftTookAsUnknown(t *testing.T) {
	opts := Options{Faults: true, Duration: 3 * time.Second, Impatient: true, Closes: true}
	res := run(t, 1, opts)
	if len(res.Anomalies) > 0 || res.Lost > 0 || res.Faults["close"] == 0 {
		t.Fatalf("%s: want engines closed, and nothing wrong", res)
	}
	opts.Mutations.ClosedFailed = true
	t.Logf("all told failed: %s", caught(t, 40, opts, "closed engines whose proposals are all told failed"))
}
