package scene

import (
	"context"
	"testing"
	"time"
)

// A World that takes the clock over from one that stopped ticks once a
// period from the tick it last read, however long reading that tick
// took. (It counted from the instant before its read: a tick written
// while a read took four periods was counted from four periods before it
// was written, and the World that took over wrote four ticks at once.)
func TestWorldTakingTheClockOverCountsFromItsRead(t *testing.T) {
	ctx := context.Background()
	a := verifyWorld(t)
	b, err := Open(ctx, a.h, a.name)
	if err != nil {
		t.Fatal(err)
	}
	const period = time.Second / TickRate
	base := time.Unix(1_800_000_000, 0)
	var elapsed time.Duration
	var duringRead func()
	a.clockNow = func() time.Time { return base.Add(elapsed) }
	b.clockNow = func() time.Time {
		now := base.Add(elapsed)
		if f := duringRead; f != nil {
			duringRead = nil
			f()
		}
		return now
	}
	step := func(ws ...*World) {
		elapsed += period / 5
		for _, w := range ws {
			if err := w.advance(ctx, period); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 5 * 10 {
		step(a, b) // a keeps the clock, b follows it
	}
	// b's next read takes four periods, and a ticks meanwhile; then a
	// stops for good.
	duringRead = func() {
		elapsed += 4 * period
		if err := a.advance(ctx, period); err != nil {
			t.Fatal(err)
		}
	}
	step(b)
	start := clockTick(t, b)
	const periods = 20
	for range 5 * periods {
		step(b)
	}
	if got := clockTick(t, b) - start; got > periods+2 || got+2 < periods {
		t.Fatalf("the clock ticked %d times in %d periods after b took it over", got, periods)
	}
}
