package sim

import (
	"flag"
	"os"
	"slices"
	"testing"
	"testing/cryptotest"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/check"
)

var seedFlag = flag.Uint64("sim.seed", 0, "run the cluster simulation with this seed only")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs a seed with crypto randomness (raft's election timeouts) drawn
// from the seed too.
func run(t *testing.T, seed uint64, opts Options) *Result {
	t.Helper()
	cryptotest.SetGlobalRandom(t, seed)
	res, err := Run(seed, opts)
	if err != nil {
		t.Fatalf("%v; replay with: go test ./internal/sim -run '%s' -sim.seed %d", err, t.Name(), seed)
	}
	return res
}

// Whole clusters under every fault, seed after seed: no anomaly, nothing
// acknowledged lost, the replicas equal at the end.
func TestSimulatedClusters(t *testing.T) {
	seeds := uint64(300)
	if os.Getenv("OSS_LONG") != "" {
		seeds = 10000
	}
	first := uint64(1)
	if *seedFlag != 0 {
		first, seeds = *seedFlag, 1
	}
	var txns, committed, anomalies, lost int
	faults, paths := map[string]int{}, map[string]int{}
	from := first
	for seed := first; seed < first+seeds; seed++ {
		opts := Options{Faults: true, Duration: 2 * time.Second}
		if seed%4 == 0 {
			opts.Nodes = 5
		}
		res := run(t, seed, opts)
		txns += res.Txns
		committed += res.Committed
		anomalies += len(res.Anomalies)
		lost += res.Lost
		for k, n := range res.Faults {
			faults[k] += n
		}
		for k, n := range res.Paths {
			paths[k] += n
		}
		if seed == first+seeds-1 || (seed-first+1)%300 == 0 {
			t.Logf("seeds %d-%d: %s", from, seed, Counts(paths))
			from, paths = seed+1, map[string]int{}
		}
		if len(res.Anomalies) > 0 || res.Lost > 0 {
			for i, a := range res.Anomalies {
				if i == 3 {
					break
				}
				t.Errorf("%s", a)
			}
			t.Fatalf("%s; replay with: go test ./internal/sim -run TestSimulatedClusters -sim.seed %d", res, seed)
		}
		if res.Committed < 10 {
			t.Fatalf("%s: too few commits to test anything", res)
		}
	}
	t.Logf("simulation: %d seeds, %d transactions checked (%d committed), faults injected: %s; anomalies %d, acknowledged commits lost %d",
		seeds, txns, committed, Counts(faults), anomalies, lost)
}

// A seed replays bit for bit: the same deliveries, history and states.
func TestSimulationReplays(t *testing.T) {
	for _, seed := range []uint64{3, 17, 40} {
		opts := Options{Faults: true, Duration: 2 * time.Second}
		a, b := run(t, seed, opts), run(t, seed, opts)
		if a.Trace != b.Trace || a.Txns != b.Txns || a.Index != b.Index {
			t.Fatalf("seed %d ran two ways:\n%s\n%s", seed, a, b)
		}
		if c := run(t, seed+1000, opts); c.Trace == a.Trace {
			t.Fatalf("seeds %d and %d ran the same: the seed does not steer the run", seed, seed+1000)
		}
	}
}

// With read validation broken on purpose, the simulation's histories show
// anomalies.
func TestSimulationCatchesABrokenValidator(t *testing.T) {
	res := run(t, 5, Options{BreakValidation: true, Clients: 8, Keys: 2, Duration: 2 * time.Second})
	if len(res.Anomalies) == 0 && res.Lost == 0 {
		t.Fatalf("%s: nothing found against a validator that checks no reads", res)
	}
	if !slices.ContainsFunc(res.Anomalies, func(a check.Anomaly) bool { return a.Kind == "wrong-decision" }) {
		t.Fatalf("%s: the serial model did not object to decisions on reads that were not current", res)
	}
	t.Logf("a broken validator: %s; the first: %s", res, res.Anomalies[0])
}

// With logs that acknowledge before they sync, power losses lose
// acknowledged commits, and the simulation sees it: it checks what it says.
func TestSimulationCatchesUnsyncedAcknowledgements(t *testing.T) {
	found := 0
	for seed := uint64(1); seed <= 10 && found == 0; seed++ {
		cryptotest.SetGlobalRandom(t, seed)
		res, err := Run(seed, Options{Faults: true, AckBeforeSync: true, Duration: 3 * time.Second})
		switch {
		case err != nil:
			found++ // raft noticed a log it had acknowledged was gone
			t.Logf("acknowledged before synced: %v", err)
		case len(res.Anomalies) > 0 || res.Lost > 0:
			found++
			t.Logf("acknowledged before synced: %s", res)
		}
	}
	if found == 0 {
		t.Fatal("power losses of logs that acknowledge unsynced appends lost nothing the checks could see")
	}
}
