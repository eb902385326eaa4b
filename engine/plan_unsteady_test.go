package engine

import "testing"

// Placement hands the lead to the best-placed voter only once it has been
// heard steadily for SteadyTicks: one that flaps (its last silence of an
// election timeout, or the leader's taking the lead, Unsteady ticks ago)
// keeps following. A flapping best-placed QUIC node was handed the lead
// each time it was back, and lost it at its next cut: the heap's term
// went from 3 to 80 in a minute, an election and a leaderless heap each
// time.
func TestLeadershipWaitsForASteadyVoter(t *testing.T) {
	for _, tc := range []struct {
		name string
		ago  uint64 // ticks since the voter was last unsteady
		want bool   // the lead is handed to it
	}{
		{"just back", 1, false},
		{"back for less than SteadyTicks", SteadyTicks - 1, false},
		{"steady for SteadyTicks", SteadyTicks, true},
	} {
		in, r := group()
		in.Self = r[1]
		in.Unsteady = map[uint64]uint64{r[0]: in.Tick - tc.ago}
		got := Plan(in)
		if moved := got.Kind == TransferLeader && got.To == r[0]; moved != tc.want {
			t.Errorf("%s: %s; want the lead handed to %d: %v", tc.name, show(got), r[0], tc.want)
		}
	}
}
