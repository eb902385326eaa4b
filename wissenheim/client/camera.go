package client

import (
	"math"

	"github.com/objectsharing/oss/wissenheim/scene"
)

// DefaultScale is the zoom a player starts with, in pixels per metre.
const DefaultScale = 40

// Camera maps a room's metres to a screen's pixels: the room point
// Center is drawn at the middle of a W×H screen, Scale pixels per metre.
type Camera struct {
	Center scene.Vec
	Scale  float64
	W, H   int
}

// ToScreen returns the pixel a room point is drawn at.
func (c Camera) ToScreen(p scene.Vec) (x, y float64) {
	return (p.X-c.Center.X)*c.Scale + float64(c.W)/2, (p.Y-c.Center.Y)*c.Scale + float64(c.H)/2
}

// ToRoom returns the room point drawn at a pixel.
func (c Camera) ToRoom(x, y float64) scene.Vec {
	return scene.Vec{X: (x-float64(c.W)/2)/c.Scale + c.Center.X, Y: (y-float64(c.H)/2)/c.Scale + c.Center.Y}
}

// Follow returns a camera of the given scale on a W×H screen that keeps p
// in view: centred on p, but, along an axis where the room is larger
// than the screen, never showing more than a margin beyond the room's
// edge, and centred on the room along an axis where the room fits.
func Follow(room scene.Vec, p scene.Vec, scale float64, w, h int) Camera {
	c := Camera{Scale: scale, W: w, H: h}
	const margin = 1.0 // metres of the outside shown past an edge
	axis := func(size, at float64, pixels int) float64 {
		half := float64(pixels) / 2 / scale
		if 2*half >= size+2*margin {
			return size / 2
		}
		return math.Min(math.Max(at, half-margin), size+margin-half)
	}
	c.Center = scene.Vec{X: axis(room.X, p.X, w), Y: axis(room.Y, p.Y, h)}
	return c
}

// Fit returns the camera that shows the whole room on a W×H screen.
func Fit(room scene.Vec, w, h int) Camera {
	const margin = 0.5
	s := math.Min(float64(w)/(room.X+2*margin), float64(h)/(room.Y+2*margin))
	return Camera{Center: scene.Vec{X: room.X / 2, Y: room.Y / 2}, Scale: s, W: w, H: h}
}
