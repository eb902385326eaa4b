package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/transport/transporttest"
)

// Settings that no node can work with are refused at Start, naming the
// setting, rather than taken: a MaxCommitBytes too small for any commit
// (every Update then failed with ErrTooLarge, the catalog's own records
// too), an Advertise with no Listen to reach the node at (ignored), a
// TickInterval of nanoseconds.
func TestStartRefusesSettingsNoNodeWorksWith(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  oss.Config
		want string
	}{
		{"a one-byte commit record", oss.Config{MaxCommitBytes: 1}, "MaxCommitBytes 1 is under 1024"},
		{"a record of one empty object's overhead", oss.Config{MaxCommitBytes: 80}, "MaxCommitBytes 80 is under 1024"},
		{"a record a byte under the least", oss.Config{MaxCommitBytes: 1023}, "MaxCommitBytes 1023 is under 1024"},
		{"Advertise alone", oss.Config{Advertise: "127.0.0.1:7400"}, `Advertise "127.0.0.1:7400" needs Listen`},
		{"Advertise on an in-process network", oss.Config{Advertise: "127.0.0.1:7400", Transport: transporttest.NewNetwork(1)}, `Advertise "127.0.0.1:7400" needs Listen`},
		{"a tick of a nanosecond", oss.Config{TickInterval: time.Nanosecond}, "TickInterval 1ns is under 1ms"},
		{"a tick under a millisecond", oss.Config{TickInterval: 999 * time.Microsecond}, "TickInterval 999µs is under 1ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Logger = quietLogger()
			n, err := oss.Start(context.Background(), &cfg)
			if err == nil {
				n.Close(context.Background())
				t.Fatalf("Start took %s", tc.name)
			}
			if !errors.Is(err, oss.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v; want ErrInvalidArgument saying %q", err, tc.want)
			}
		})
	}
}

// The least settings Start takes work: a node with a 1 KiB commit record
// and a 1 ms tick commits an object, and the zero Config still means the
// defaults.
func TestStartTakesTheLeastSettings(t *testing.T) {
	for _, cfg := range []oss.Config{{MaxCommitBytes: 1024, TickInterval: time.Millisecond}, {}} {
		n, h := openHeap(t, &cfg)
		if err := h.Update(context.Background(), func(tx *oss.Tx) error {
			ref, err := oss.New(tx, strings.Repeat("v", 100))
			if err != nil {
				return err
			}
			return tx.SetRoot("r", ref.ID)
		}); err != nil {
			t.Fatalf("MaxCommitBytes %d, TickInterval %v: %v", cfg.MaxCommitBytes, cfg.TickInterval, err)
		}
		n.Close(context.Background())
	}
}
