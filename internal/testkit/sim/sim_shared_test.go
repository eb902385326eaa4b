package sim

import (
	"sync"
	"testing"
	"testing/cryptotest"
	"time"
)

// shared holds the outcome of every run that caught and outcomeCaught
// made, by seed and options. A run is a function of them alone
// (TestSimulationReplays), and the tests that look for a mutation's
// first catching seed look through the same runs: TestAbandonedProposalsOutcomeIsUnknown
// searches seeds 1 to 59 with abandoned proposals told failed, and 1 to 11
// with them told committed, which TestToldOutcomesHeldAgainstDecisions
// runs too (50 to 59, 1 to 11). Each such run is made once per test
// binary; the main runs and the sweep, whose runs no other test makes,
// keep none.
var shared struct {
	sync.Mutex
	runs map[sharedKey]sharedRun
}

type sharedKey struct {
	seed uint64
	opts Options
}

type sharedRun struct {
	res *Result
	err error
}

// runShared is Run of seed with opts, with crypto randomness drawn from
// the seed, made once per test binary. Callers only read the Result.
func runShared(t *testing.T, seed uint64, opts Options) (*Result, error) {
	t.Helper()
	k := sharedKey{seed, opts}
	shared.Lock()
	r, ok := shared.runs[k]
	shared.Unlock()
	if ok {
		return r.res, r.err
	}
	cryptotest.SetGlobalRandom(t, seed)
	res, err := Run(seed, opts)
	shared.Lock()
	if shared.runs == nil {
		shared.runs = map[sharedKey]sharedRun{}
	}
	shared.runs[k] = sharedRun{res, err}
	shared.Unlock()
	return res, err
}

// A shared run is the run of its seed and options: the same trace as a
// run made afresh, and another run for other options at the same seed.
func TestSharedRunIsTheRunOfItsSeedAndOptions(t *testing.T) {
	opts := Options{Nodes: 1, Duration: 500 * time.Millisecond}
	a, err := runShared(t, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := runShared(t, 3, opts); again != a {
		t.Fatalf("the run of seed 3 was made twice")
	}
	if fresh := run(t, 3, opts); fresh.Trace != a.Trace || fresh.Txns != a.Txns {
		t.Fatalf("shared and fresh runs of seed 3 differ:\n%s\n%s", a, fresh)
	}
	opts.Clients = 8
	if b, err := runShared(t, 3, opts); err != nil || b.Trace == a.Trace {
		t.Fatalf("seed 3 with 8 clients gave %v (err %v), the run with 4: %s", b, err, a)
	}
}
