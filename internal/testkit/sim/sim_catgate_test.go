package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/check"
)

// A restarted node's catalog gate is passed at an entry of a later term
// than its recovered log's last, as oss's catalogGate is. Seed 7340396 of
// TestOutcomesSweep's "impatient" restarted n3 with a catalog log up to
// index 16, of which a tail of term 5 never committed: a later leader cut
// it, and the catalog committed nothing past 13 for the rest of the run.
// Held by index alone, n3's gate stayed shut: it opened no replica when
// heap h0's leader reached it as a learner, so h0 stayed on one voter
// with two learners, the leader waiting for both to catch up before it
// grew to three voters.
func TestCatalogGatePassedAtALaterTermInTheSimulation(t *testing.T) {
	opts := Options{Faults: true, Duration: 3 * time.Second, Impatient: true}
	res := run(t, 7340396, opts)
	if len(res.Anomalies) > 0 || res.Lost > 0 {
		t.Fatalf("%s: %v", res, res.Anomalies)
	}
	if res.Paths["catalog: gate passed at a later term"] == 0 {
		t.Fatalf("%s: no catalog gate passed at a later term", res)
	}
	opts.Mutations.CatalogGateByIndex = true
	old := run(t, 7340396, opts)
	if !slices.ContainsFunc(old.Anomalies, func(a check.Anomaly) bool {
		return a.Kind == "under-replicated" && strings.Contains(a.Explain, "heap h0 ")
	}) {
		t.Fatalf("with the gate held by index alone: %s: %v; want heap h0 under-replicated", old, old.Anomalies)
	}
}
