package sim

import "testing"

// The simulation's reconciler passes engine.Plan each voter's last
// unsteady tick, as package oss does (engine.Engine.Unsteady): a leader
// new to its term, or a best-placed voter just back from a silence,
// waits SteadyTicks before placement hands it the lead. Until 2026-12-07
// it passed none, and the rule was only a wait of SteadyTicks from the
// run's start.
func TestPlacementWaitsForSteadyVotersInTheSimulation(t *testing.T) {
	held := 0
	for seed := uint64(1); seed <= 6 && held == 0; seed++ {
		res := run(t, seed, Options{Faults: true})
		held += res.Paths["reconcile: placement held for an unsteady voter"]
	}
	if held == 0 {
		t.Fatal("no placement transfer was held for a voter not yet steady in six faulty runs")
	}
}
