package scene_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// A spec of a new world that, once written, Open would refuse (a wall or
// a door not a number, a wall's corners the wrong way round, a size not
// a number, a room's name over its bound), or whose prop or door every
// read of it would find damaged (a name over 1,024 bytes; Open takes
// such a world), is refused by Create with ErrInvalid, and nothing is
// written. Create wrote such a world: of a damaged room it then said it
// was damaged, and every Open after refused it, the world's name spent
// for good. Of a world that exists the spec is not checked
// (TestCreateOpensAnExistingWorldItsSpecWouldNotPass).
func TestCreateRefusesASpecItsRoomCheckWouldRefuse(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	long := strings.Repeat("x", 1025)
	nan := math.NaN()
	for i, c := range []struct {
		name string
		edit func(r *scene.RoomSpec)
	}{
		{"wall of NaN", func(r *scene.RoomSpec) { r.Walls = append(r.Walls, scene.R(nan, 1, 2, 2)) }},
		{"wall to -Inf", func(r *scene.RoomSpec) { r.Walls = append(r.Walls, scene.R(math.Inf(-1), 1, 2, 2)) }},
		{"wall the wrong way round", func(r *scene.RoomSpec) {
			r.Walls = append(r.Walls, scene.Rect{Min: scene.Vec{X: 3, Y: 3}, Max: scene.Vec{X: 1, Y: 1}})
		}},
		{"door of NaN", func(r *scene.RoomSpec) {
			r.Doors = append(r.Doors, scene.DoorSpec{Name: "d", Rect: scene.R(1, 1, nan, 2)})
		}},
		{"door of 1e6 m", func(r *scene.RoomSpec) {
			r.Doors = append(r.Doors, scene.DoorSpec{Name: "d", Rect: scene.R(0, 0, 1e6, 1)})
		}},
		{"door's name", func(r *scene.RoomSpec) {
			r.Doors = append(r.Doors, scene.DoorSpec{Name: long, Rect: scene.R(1, 1, 2, 2)})
		}},
		{"room's name", func(r *scene.RoomSpec) { r.Name = long }},
		{"prop's name", func(r *scene.RoomSpec) { r.Props[0].Name = long }},
		{"size of NaN", func(r *scene.RoomSpec) { r.Size.Y = nan }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := n.CreateHeap(ctx, fmt.Sprint("w", i), nil)
			if err != nil {
				t.Fatal(err)
			}
			spec := scene.DemoSpec(4)
			c.edit(&spec.Rooms[0])
			if _, err := scene.Create(ctx, h, spec); !errors.Is(err, scene.ErrInvalid) {
				t.Errorf("Create: %v, want ErrInvalid", err)
			}
			if _, err := scene.Open(ctx, h, ""); !errors.Is(err, scene.ErrNoWorld) {
				t.Errorf("Open after the refused Create: %v, want ErrNoWorld", err)
			}
		})
	}
}
