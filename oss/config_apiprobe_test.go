package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// Start refuses a value of an enumerated setting that names none of its
// constants, Gossip as Durability and Role, naming the setting; it took
// an unknown Gossip for GossipLAN.
func TestAPIProbeUnknownGossipRefused(t *testing.T) {
	for _, cfg := range []oss.Config{
		{Gossip: oss.GossipLoopback + 1},
		{Gossip: 255, Durability: 9},
	} {
		cfg.Logger = quietLogger()
		n, err := oss.Start(context.Background(), &cfg)
		if err == nil {
			n.Close(context.Background())
		}
		if !errors.Is(err, oss.ErrInvalidArgument) || !strings.Contains(err.Error(), "Gossip") {
			t.Errorf("Start with Gossip %d: %v, want ErrInvalidArgument naming Gossip", cfg.Gossip, err)
		}
	}
}
