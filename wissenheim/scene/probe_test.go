package scene_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/objectsharing/oss/wissenheim/scene"
)

// An outsider's probes of the scene's calls with arguments a client gets
// wrong.

// Join at a place that is not a number is refused with ErrInvalid, and a
// place that is taken or outside the room with ErrBlocked, naming it.
func TestProbeJoinAtBadPlace(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	join(t, w, "ada", at(2, 5))
	for _, c := range []struct {
		at   scene.Vec
		want error
	}{
		{scene.Vec{X: math.NaN(), Y: 1}, scene.ErrInvalid},
		{scene.Vec{X: 1, Y: math.Inf(-1)}, scene.ErrInvalid},
		{scene.Vec{X: -3, Y: -3}, scene.ErrBlocked},
		{scene.Vec{X: 2, Y: 5}, scene.ErrBlocked},
	} {
		_, err := w.Join(ctx, "bob", &scene.JoinOptions{Room: "room", At: &c.at})
		if !errors.Is(err, c.want) {
			t.Errorf("Join at %v: %v, want %v", c.at, err, c.want)
		} else if c.want == scene.ErrBlocked && strings.Contains(err.Error(), "no free spot") {
			t.Errorf("Join at %v: %v; want the place named", c.at, err)
		}
	}
	verify(t, w)
}
