package sim

import (
	"testing"
	"time"
)

// Clusters of five whose reconciler replaces voters missing for 100 to
// 300 ms and, with no server to take their places, shrinks groups (the
// catalog's five voters) under every fault: no anomaly, no acknowledged
// commit lost, and the seeds do replace and shrink. With ReplaceAfter an
// hour, as TestSimulatedClusters runs, neither step is ever taken.
func TestSimulatedClustersReplaceAndShrink(t *testing.T) {
	seeds := uint64(60)
	if raceDetector {
		seeds = 20
	}
	first := uint64(1)
	if *seedFlag != 0 {
		first, seeds = *seedFlag, 1
	}
	paths := map[string]int{}
	for seed := first; seed < first+seeds; seed++ {
		res := run(t, seed, Options{Nodes: 5, Faults: true, Duration: 3 * time.Second,
			ReplaceAfter: time.Duration(100+seed%3*100) * time.Millisecond})
		for k, n := range res.Paths {
			paths[k] += n
		}
		if len(res.Anomalies) > 0 || res.Lost > 0 {
			t.Fatalf("%s; replay with: go test ./internal/testkit/sim -run TestSimulatedClustersReplaceAndShrink -sim.seed %d", res, seed)
		}
	}
	t.Logf("%d seeds: %s", seeds, Counts(paths))
	for _, p := range []string{"reconcile: replace", "reconcile: shrink"} {
		if paths[p] == 0 && *seedFlag == 0 {
			t.Errorf("no %q in %d seeds: the test no longer covers it", p, seeds)
		}
	}
}
