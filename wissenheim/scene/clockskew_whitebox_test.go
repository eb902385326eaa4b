package scene

import (
	"context"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// The world clock ticks TickRate times a second however far apart the
// wall clocks of the processes that run it are. (Each process compared
// its own wall clock with the Wall another had written: one a day ahead
// took every Wall of the others for a long pause and ticked once, each
// other took its Wall for a clock set back and ticked once, and between
// them the clock ticked at every call of advance, five times a period:
// leases ran out five to ten times too soon, and a live avatar whose
// heartbeat came a second apart was reaped.)
func TestWorldClockKeepsTimeBetweenSkewedClocks(t *testing.T) {
	ctx := context.Background()
	a := verifyWorld(t)
	b, err := Open(ctx, a.h, a.name)
	if err != nil {
		t.Fatal(err)
	}
	const period = time.Second / TickRate
	for _, skew := range []time.Duration{24 * time.Hour, -24 * time.Hour, 2 * time.Minute} {
		// Each World's clock is a wall clock without a monotonic
		// reading, as one another process wrote would be; b's is
		// skewed.
		base := time.Unix(1_800_000_000, 0)
		var elapsed time.Duration
		a.clockNow = func() time.Time { return base.Add(elapsed) }
		b.clockNow = func() time.Time { return base.Add(elapsed + skew) }
		start := clockTick(t, a)
		const periods = 40
		for range 5 * periods {
			elapsed += period / 5
			for _, w := range []*World{a, b} {
				if err := w.advance(ctx, period); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := clockTick(t, a) - start; got > periods+2 || got+2 < periods {
			t.Fatalf("skew %v: the clock ticked %d times in %d periods", skew, got, periods)
		}
	}
}

// clockTick reads the world clock's tick in a linearizable transaction.
func clockTick(t *testing.T, w *World) uint64 {
	t.Helper()
	var tick uint64
	err := w.h.Update(context.Background(), func(tx *oss.Tx) error {
		c, err := w.readClock(tx)
		tick = c.Tick
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tick
}
