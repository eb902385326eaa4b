package sim

import "testing"

// A heap placed on one node grows by learners first. Its lone voter,
// restarted after a power loss, came back with the commit index its log
// kept (a write of a commit index alone is not kept), led at once, and
// answered a learner's read index with that index before the entry of
// its election was durable: raft holds a peer's read index request until
// the leader commits an entry of its term only when there are other
// voters. The learner, restarted too and behind, then answered a fresh
// read from a state without commits acknowledged before the read began
// (2 stale reads and a G-single-realtime in heap h0 at the default 5 s;
// TestSimulatedClusters runs 2 s). The engine now holds a peer's request
// as it holds its own reads (engine.Engine.holdAsk).
func TestFreshReadAfterALoneVotersRestart(t *testing.T) {
	for _, seed := range []uint64{21482} {
		res := run(t, seed, Options{Faults: true})
		if len(res.Anomalies) > 0 || res.Lost > 0 {
			for i, a := range res.Anomalies {
				if i == 3 {
					break
				}
				t.Errorf("%s", a)
			}
			t.Fatalf("%s; replay with: go test ./internal/testkit/sim -run TestFreshReadAfterALoneVotersRestart", res)
		}
		t.Logf("%s", res)
	}
}
