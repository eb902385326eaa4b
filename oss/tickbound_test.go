package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// A TickInterval of months is refused for what it is. It was taken, the
// default SnapshotGrace (600 ticks) derived from it overflowed, and
// Start blamed a SnapshotGrace the caller had not set ("-600ns is
// shorter than an election timeout"; found by probing the library).
func TestStartRefusesATickOfMonths(t *testing.T) {
	for _, tick := range []time.Duration{25 * time.Hour, 24 * 90 * time.Hour, time.Duration(1<<63 - 1)} {
		n, err := oss.Start(context.Background(), &oss.Config{TickInterval: tick, Logger: quietLogger()})
		if err == nil {
			n.Close(context.Background())
			t.Fatalf("Start accepted TickInterval %v", tick)
		}
		if !errors.Is(err, oss.ErrInvalidArgument) || !strings.Contains(err.Error(), "TickInterval") || strings.Contains(err.Error(), "SnapshotGrace") {
			t.Errorf("TickInterval %v: %v; want it refused by name, and SnapshotGrace not blamed", tick, err)
		}
	}
}
