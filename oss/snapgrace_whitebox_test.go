package oss

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Config.SnapshotGrace sets how long a leader keeps the log after a
// snapshot for a silent follower (engine.Config.SnapshotGraceTicks), in
// ticks rounded up; zero is 60 election timeouts. A grace shorter than
// an election timeout, or negative, is refused at Start with a message
// that names it. The engine's grace could not be set from Config.
func TestSnapshotGraceFromConfig(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	tick := 10 * time.Millisecond
	for _, tc := range []struct {
		grace time.Duration
		ticks uint64
	}{
		{0, 600},
		{3 * time.Second, 300},
		{3*time.Second + time.Millisecond, 301},
		{electionTicks * tick, electionTicks},
	} {
		c := populate(&Config{TickInterval: tick, SnapshotGrace: tc.grace})
		if err := c.validate(); err != nil {
			t.Fatalf("SnapshotGrace %v: %v", tc.grace, err)
		}
		if got := c.snapshotGraceTicks(); got != tc.ticks {
			t.Fatalf("SnapshotGrace %v at a tick of %v: %d ticks, want %d", tc.grace, tick, got, tc.ticks)
		}
	}
	if c := populate(nil); c.SnapshotGrace != time.Minute {
		t.Fatalf("the default SnapshotGrace is %v, want a minute at the default tick", c.SnapshotGrace)
	}
	for _, grace := range []time.Duration{-time.Second, electionTicks*tick - 1} {
		n, err := Start(context.Background(), &Config{TickInterval: tick, SnapshotGrace: grace, Logger: testLogger()})
		if err == nil {
			n.Close(context.Background())
		}
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "SnapshotGrace") {
			t.Fatalf("Start with SnapshotGrace %v: %v; want an invalid config naming SnapshotGrace", grace, err)
		}
	}
}
