package main

import (
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/wissenheim/client"
)

// The overlay's commit line showed "bots here p50 0.0ms p99 0.0ms" in a
// window that runs no bots (one that joined a cluster with --join), and
// "you p50 0.0ms" before the player had committed anything: figures of
// nothing measured. It says what there is to say.
func TestOverlayCommitLineShowsOnlyWhatWasMeasured(t *testing.T) {
	you, bots := client.NewDurations(8), client.NewDurations(8)
	line := commitLine(you, bots)
	if strings.Contains(line, "0.0ms") || strings.Contains(line, "bots") {
		t.Errorf("nothing committed yet: %q, want no figures and no bots", line)
	}
	you.Add(3 * time.Millisecond)
	line = commitLine(you, bots)
	if !strings.Contains(line, "you p50 3.0ms p99 3.0ms") || strings.Contains(line, "bots") {
		t.Errorf("the player's commits only: %q, want the player's figures and no bots", line)
	}
	bots.Add(5 * time.Millisecond)
	line = commitLine(you, bots)
	if !strings.Contains(line, "you p50 3.0ms") || !strings.Contains(line, "bots here p50 5.0ms p99 5.0ms") {
		t.Errorf("both: %q, want both figures", line)
	}
}
