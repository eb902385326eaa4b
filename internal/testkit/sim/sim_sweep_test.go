package sim

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Outcomes under shapes of cluster the main run does not take: eight
// clients on two lists (conflicts, resends and abandons at every step);
// five nodes whose reconciler replaces and shrinks; ten seconds of faults
// with few clients on many lists (proposals abandoned while queued, and
// taken late); a replica removed while cut off; impatient clients, who
// give up on commits 0 to 60 ms after queuing them, at every stage of
// their way, alone, with engines closed before power losses (their
// answers handed to the clients), and contended with a deduplication
// window of 1 to 32 entries; and that window alone (records decided
// Stale, which oss reports as conflicts, and resent copies past the
// window). Every run ends still and holds each outcome told against the
// decisions (outcomeAnomalies) and the histories. See sweepRange for the
// seeds.
func TestOutcomesSweep(t *testing.T) {
	first, seeds := sweepRange(t)
	shapes := []struct {
		name string
		opts func(seed uint64) Options
	}{
		{"contended", func(uint64) Options {
			return Options{Faults: true, Clients: 8, Keys: 2, Duration: 2 * time.Second}
		}},
		{"replace and shrink", func(seed uint64) Options {
			return Options{Nodes: 5, Faults: true, Duration: 3 * time.Second, ReplaceAfter: time.Duration(100+seed%3*100) * time.Millisecond}
		}},
		{"long faults", func(uint64) Options {
			return Options{Faults: true, Clients: 2, Keys: 32, Duration: 10 * time.Second}
		}},
		{"removed while cut off", func(uint64) Options {
			return Options{RemoveDuringPartition: true, Faults: true, Duration: 3 * time.Second}
		}},
		{"impatient", func(uint64) Options {
			return Options{Faults: true, Duration: 3 * time.Second, Impatient: true}
		}},
		{"impatient, closed", func(uint64) Options {
			return Options{Faults: true, Duration: 3 * time.Second, Impatient: true, Closes: true}
		}},
		{"impatient and contended", func(seed uint64) Options {
			return Options{Faults: true, Clients: 8, Keys: 2, Duration: 3 * time.Second, Impatient: true, DedupWindow: 1 << (seed % 6)}
		}},
		{"small deduplication window", func(seed uint64) Options {
			return Options{Faults: true, Duration: 3 * time.Second, DedupWindow: 1 << (seed % 6)}
		}},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			told, faults, paths := map[string]int{}, map[string]int{}, map[string]int{}
			for seed := first; seed < first+seeds; seed++ {
				res := run(t, seed, sh.opts(seed))
				for k, n := range res.Told {
					told[k] += n
				}
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
			t.Logf("%d seeds: told %s; faults %s; paths %s", seeds, Counts(told), Counts(faults), Counts(paths))
		})
	}
}

// sweepRange returns the seeds a sweep runs: OSS_SWEEP_FIRST (1) and
// OSS_SWEEP_SEEDS of them (2000 with OSS_LONG, else 3), or -sim.seed.
func sweepRange(t *testing.T) (first, seeds uint64) {
	seeds = 3
	if os.Getenv("OSS_LONG") != "" {
		seeds = 2000
	}
	if s := os.Getenv("OSS_SWEEP_SEEDS"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("OSS_SWEEP_SEEDS: %v", err)
		}
		seeds = n
	}
	first = 1
	if s := os.Getenv("OSS_SWEEP_FIRST"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("OSS_SWEEP_FIRST: %v", err)
		}
		first = n
	}
	if *seedFlag != 0 {
		first, seeds = *seedFlag, 1
	}
	return first, seeds
}
