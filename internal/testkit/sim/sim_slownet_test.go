package sim

import (
	"testing"
	"time"
)

// Three nodes whose every message is held 1 to 1.5 election timeouts
// from the start: the catalog and the heaps elect their leaders through
// it, their election clocks slowed, and commits go through while it
// holds; once it ends, the run converges with no anomaly and every clock
// is back to raft's ticks. With raft's clock fixed (the mutation) no
// group elects a leader while it holds, and nothing commits.
func TestSimulatedSlowNetworkElects(t *testing.T) {
	opts := Options{SlowNetwork: true, Duration: 5 * time.Second}
	seeds := uint64(4)
	if raceDetector {
		seeds = 2
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		res := run(t, seed, opts)
		if len(res.Anomalies) > 0 || res.Lost > 0 {
			t.Fatalf("%s: %v; replay with: go test ./internal/testkit/sim -run '%s' -sim.seed %d", res, res.Anomalies, t.Name(), seed)
		}
		if res.Paths["committed while slow"] == 0 || res.Paths["election clock slowed"] == 0 || res.Paths["election clock still slowed"] != 0 {
			t.Fatalf("%s: want commits while slow, clocks slowed and none still slowed at the end", res)
		}
		t.Logf("%s", res)
	}
	fixed := opts
	fixed.Mutations.FixedElectionClock = true
	res := run(t, 1, fixed)
	if n := res.Paths["committed while slow"]; n != 0 {
		t.Fatalf("%s: %d commits while slow with raft's clock fixed: the delay breaks no election, and the test tests nothing", res, n)
	}
}
