package scene

import (
	"encoding/binary"
	"math"

	"github.com/google/uuid"
)

// Sizes of the world, in metres. They are fixed so that every client
// decides collisions, reach and cells alike.
const (
	// AvatarRadius is the radius of an avatar's disk.
	AvatarRadius = 0.25
	// CellSize is the side of an occupancy cell. An avatar claims every
	// cell its disk overlaps (one to four).
	CellSize = 2 * AvatarRadius
	// MaxStep is the longest move one Move may make. Longer moves are
	// refused with ErrTooFar: an avatar walks, it does not jump.
	MaxStep = 0.5
	// Reach is how far from an avatar's centre a prop (or, for Give,
	// another avatar's centre) may be for it to be picked up, kicked,
	// toggled or handed over.
	Reach = 1.0
	// BallRadius is the radius of a ball, for its bounces.
	BallRadius = 0.12
	// MaxKickSpeed caps a kick's speed, in metres per second.
	MaxKickSpeed = 8.0
)

// Vec is a point or a displacement in a room, in metres; X grows to the
// right (east), Y downwards (south), as on a screen.
type Vec struct {
	X float64 `cbor:"1,keyasint"`
	Y float64 `cbor:"2,keyasint"`
}

// Add returns v+w.
func (v Vec) Add(w Vec) Vec { return Vec{v.X + w.X, v.Y + w.Y} }

// Sub returns v−w.
func (v Vec) Sub(w Vec) Vec { return Vec{v.X - w.X, v.Y - w.Y} }

// Scale returns v·f.
func (v Vec) Scale(f float64) Vec { return Vec{v.X * f, v.Y * f} }

// Len returns the length of v.
func (v Vec) Len() float64 { return math.Hypot(v.X, v.Y) }

// Rect is an axis-aligned rectangle: the points p with Min ≤ p ≤ Max.
type Rect struct {
	Min Vec `cbor:"1,keyasint"`
	Max Vec `cbor:"2,keyasint"`
}

// R returns the rectangle with corners (x0, y0) and (x1, y1).
func R(x0, y0, x1, y1 float64) Rect {
	return Rect{Vec{min(x0, x1), min(y0, y1)}, Vec{max(x0, x1), max(y0, y1)}}
}

// Dist returns the distance from p to the nearest point of r, 0 inside.
func (r Rect) Dist(p Vec) float64 {
	dx := max(r.Min.X-p.X, 0, p.X-r.Max.X)
	dy := max(r.Min.Y-p.Y, 0, p.Y-r.Max.Y)
	return math.Hypot(dx, dy)
}

// Center returns the centre of r.
func (r Rect) Center() Vec { return Vec{(r.Min.X + r.Max.X) / 2, (r.Min.Y + r.Max.Y) / 2} }

// diskHits reports whether a disk of radius rad at p overlaps the
// interior of r (touching its edge is allowed).
func diskHits(r Rect, p Vec, rad float64) bool { return r.Dist(p) < rad }

// inside reports whether a disk of radius rad at p lies within a room of
// the given size.
func inside(size, p Vec, rad float64) bool {
	return p.X >= rad && p.Y >= rad && p.X <= size.X-rad && p.Y <= size.Y-rad
}

// cell is the index of an occupancy cell of a room.
type cell struct{ X, Y int32 }

// cellsOf returns the cells a disk of AvatarRadius at p overlaps: all
// cells within its bounding box. A disk lies inside the union of its
// cells, so avatars whose cells are disjoint do not overlap.
func cellsOf(p Vec) []cell {
	x0 := int32(math.Floor((p.X - AvatarRadius) / CellSize))
	x1 := int32(math.Floor((p.X + AvatarRadius) / CellSize))
	y0 := int32(math.Floor((p.Y - AvatarRadius) / CellSize))
	y1 := int32(math.Floor((p.Y + AvatarRadius) / CellSize))
	cs := make([]cell, 0, 4)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			cs = append(cs, cell{x, y})
		}
	}
	return cs
}

// cellsIn returns the cells that overlap r.
func cellsIn(r Rect) []cell {
	var cs []cell
	x0, x1 := int32(math.Floor(r.Min.X/CellSize)), int32(math.Floor(r.Max.X/CellSize))
	y0, y1 := int32(math.Floor(r.Min.Y/CellSize)), int32(math.Floor(r.Max.Y/CellSize))
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			cs = append(cs, cell{x, y})
		}
	}
	return cs
}

// cellRect returns the area of a cell.
func cellRect(c cell) Rect {
	return Rect{Vec{float64(c.X) * CellSize, float64(c.Y) * CellSize}, Vec{float64(c.X+1) * CellSize, float64(c.Y+1) * CellSize}}
}

// cellID is the object ID of a cell of a room: derived from the room's
// ID and the cell's index, so that every node names the same cell alike
// and a free cell is simply an object that does not exist.
func cellID(room uuid.UUID, c cell) uuid.UUID {
	var b [12]byte
	copy(b[:4], "cell")
	binary.BigEndian.PutUint32(b[4:], uint32(c.X))
	binary.BigEndian.PutUint32(b[8:], uint32(c.Y))
	return uuid.NewSHA1(room, b[:])
}

func hasCell(cs []cell, c cell) bool {
	for _, d := range cs {
		if d == c {
			return true
		}
	}
	return false
}
