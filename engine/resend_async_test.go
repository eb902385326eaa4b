package engine

import (
	"fmt"
	"testing"
)

// TestProposalsEndOnceFaultsHeal over replicas that write their logs
// asynchronously and hand Readies out before applying them, as every
// replica of oss does: a proposal whose leader lost the lead around it
// (deposed by a transfer or by CheckQuorum, its entry overwritten or
// committed by the next leader, its forward lost) ends, once the faults
// heal, with one truthful completion.
func TestProposalsEndOnceFaultsHealAsync(t *testing.T) {
	asyncWrites, applyApart = true, true
	defer func() { asyncWrites, applyApart = false, false }()
	seeds := uint64(8)
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { faultsHeal(t, seed) })
	}
}
