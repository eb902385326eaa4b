package bots_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/bots"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// An outsider's probe: a rate or a speed that is not a positive number
// is refused with scene.ErrInvalid before any bot joins, where a negative
// rate used to panic in the bots' goroutines (wissenheim --bot-rate -1).
func TestProbeBadRateOrSpeedRefused(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	h, err := n.CreateHeapIfNotExists(ctx, "world", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := scene.Create(ctx, h, scene.DemoSpec(10))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []bots.Config{
		{N: 2, Rate: -1},
		{N: 2, Rate: math.NaN()},
		{N: 2, Rate: math.Inf(1)},
		{N: 2, Speed: -1},
		{N: 2, Speed: math.NaN()},
	} {
		s, err := bots.Start(ctx, w, &c)
		if s != nil {
			s.Stop()
		}
		if !errors.Is(err, scene.ErrInvalid) {
			t.Errorf("rate %v, speed %v: %v, want ErrInvalid", c.Rate, c.Speed, err)
		}
	}
	snap, err := w.Snapshot(ctx, w.Rooms()[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Avatars) != 0 {
		t.Errorf("%d bots joined a swarm that was refused", len(snap.Avatars))
	}
}
