package sim

import (
	"os"
	"testing"
	"time"
)

// Replica management across partitions: five nodes whose reconciler
// follows the network (a node its leader cannot reach is not live) and
// replaces after 300 ms, under the nemesis with the hard partitions
// added: a node cut off again and again while placement replaces it, two
// cut off at once (heaps that lose their majority), partitions flapping
// every few hundred milliseconds, one or two nodes healed only after
// seconds. After the heal and a quiet period every heap is back at its
// replication factor, the replicas equal, no anomaly and nothing
// acknowledged lost. See sweepRange for the seeds
// (12 here without OSS_SWEEP_SEEDS, to keep go test ./... inside its
// budget; 1000 with OSS_LONG).
func TestSimulatedPartitionsReplaceAndRejoin(t *testing.T) {
	first, seeds := sweepRange(t)
	if os.Getenv("OSS_SWEEP_SEEDS") == "" && *seedFlag == 0 {
		seeds = 12
		if os.Getenv("OSS_LONG") != "" {
			seeds = 1000
		}
	}
	faults, paths := map[string]int{}, map[string]int{}
	for seed := first; seed < first+seeds; seed++ {
		res := run(t, seed, partitionOptions(seed))
		for k, n := range res.Faults {
			faults[k] += n
		}
		for k, n := range res.Paths {
			paths[k] += n
		}
		if len(res.Anomalies) > 0 || res.Lost > 0 {
			for i, a := range res.Anomalies {
				if i == 3 {
					break
				}
				t.Errorf("%s", a)
			}
			t.Fatalf("%s; replay with: go test ./internal/testkit/sim -run '%s' -sim.seed %d", res, t.Name(), seed)
		}
	}
	t.Logf("%d seeds: faults %s; paths %s", seeds, Counts(faults), Counts(paths))
	if seeds >= 12 && (faults["repeated isolation"] == 0 || faults["two cut off"] == 0 || faults["flapping"] == 0 || faults["long cut, healed late"] == 0) {
		t.Fatalf("not every hard partition was tried: %s", Counts(faults))
	}
}

func partitionOptions(seed uint64) Options {
	return Options{Nodes: 5, Faults: true, Duration: 10 * time.Second, ReplaceAfter: 300 * time.Millisecond,
		FollowPartitions: true, HardPartitions: true, Clients: 3 + int(seed%3)}
}

// A catalog removal the reconciler proposes again, after the leader's
// configuration changed since it was decided (a shrink to three voters,
// then a growth back to five), is held against the voters up when it was
// proposed, and proposed only while they are a quorum. Seed 7200096 of
// TestSimulatedPartitionsReplaceAndRejoin retried it against [1 2 3 5 6],
// every voter up, and was reported below quorum against the voters up
// at its decision, [1 5 6]; seed 7100115 of TestOutcomesSweep's "replace
// and shrink" the same way. Since placement waits for steady voters in
// the simulation too (2026-12-07), that seed's run has no removal: its
// options run with 7100104, which has one and a shrink.
func TestRemovalRetriedAfterConfigurationChange(t *testing.T) {
	for _, c := range []struct {
		seed uint64
		opts Options
	}{
		{7200096, partitionOptions(7200096)},
		{7100104, Options{Nodes: 5, Faults: true, Duration: 3 * time.Second, ReplaceAfter: 100 * time.Millisecond}},
	} {
		res := run(t, c.seed, c.opts)
		if len(res.Anomalies) > 0 || res.Lost > 0 {
			t.Fatalf("%s: %v", res, res.Anomalies)
		}
		if res.Faults["removal"] == 0 || res.Paths["reconcile: shrink"] == 0 {
			t.Fatalf("%s: want a removal and a shrink", res)
		}
	}
}
