package scene

import "math"

// TickRate is how many times a second the world clock advances (see
// World.Run). A kicked ball moves one step per tick.
const TickRate = 20

// A kicked ball rolls by rudimentary physics, computed, never stored: the
// kick writes the ball's state once (where it was, its velocity, the tick
// it was kicked at), and the ball's position at any later tick is a pure
// function of that state, the room's walls and the tick. Every client
// therefore draws it at the same place for the same state of the heap,
// and the ball costs no writes while it rolls.
//
// The arithmetic is in integers (millimetres, millimetres per tick) so
// that it gives the same result on every machine: Go may fuse float
// operations differently on different architectures.

const (
	friction  = 15 // velocity keeps friction/16 of itself each tick
	bounce    = 3  // and bounce/4 of itself off a wall
	mmPerM    = 1000
	ballMM    = BallRadius * mmPerM
	maxRollNo = 4096 // a roll is over long before: friction stops it
)

// roll is a kicked ball's state.
type roll struct {
	Tick uint64 `cbor:"1,keyasint"` // the clock tick of the kick
	X    int64  `cbor:"2,keyasint"` // position at Tick, mm
	Y    int64  `cbor:"3,keyasint"`
	VX   int64  `cbor:"4,keyasint"` // velocity, mm per tick
	VY   int64  `cbor:"5,keyasint"`
}

// obstacles are a room's walls and bounds as a ball's centre meets them:
// in millimetres, each wall grown by the ball's radius.
type obstacles struct {
	w, h  int64
	walls [][4]int64
}

func mm(f float64) int64 { return int64(math.Round(f * mmPerM)) }

func newObstacles(r *roomObj) obstacles {
	o := obstacles{w: mm(r.Size.X), h: mm(r.Size.Y)}
	for _, w := range r.Walls {
		o.walls = append(o.walls, [4]int64{mm(w.Min.X) - ballMM, mm(w.Min.Y) - ballMM, mm(w.Max.X) + ballMM, mm(w.Max.Y) + ballMM})
	}
	return o
}

func (o *obstacles) blocked(x, y int64) bool {
	if x < ballMM || y < ballMM || x > o.w-ballMM || y > o.h-ballMM {
		return true
	}
	for _, w := range o.walls {
		if x > w[0] && x < w[2] && y > w[1] && y < w[3] {
			return true
		}
	}
	return false
}

// newRoll starts a roll at p with velocity v (metres per second) at tick.
func newRoll(p, v Vec, tick uint64) *roll {
	vx, vy := int64(math.Round(v.X*mmPerM/TickRate)), int64(math.Round(v.Y*mmPerM/TickRate))
	return &roll{Tick: tick, X: mm(p.X), Y: mm(p.Y), VX: vx, VY: vy}
}

// at returns where the ball is at tick (the kick's position for a tick
// before the kick), its velocity in metres per second, and whether it
// still rolls. Each step moves along X, then along Y; a move that would
// put the ball in a wall or out of the room reverses that component
// instead, losing a quarter; then friction takes a sixteenth of both.
// Integer division rounds towards zero, so the ball stops.
func (r *roll) at(o *obstacles, tick uint64) (Vec, Vec, bool) {
	x, y, vx, vy := r.X, r.Y, r.VX, r.VY
	n := uint64(0)
	if tick > r.Tick {
		n = min(tick-r.Tick, maxRollNo)
	}
	for range n {
		if vx == 0 && vy == 0 {
			break
		}
		if nx := x + vx; o.blocked(nx, y) {
			vx = -vx * bounce / 4
		} else {
			x = nx
		}
		if ny := y + vy; o.blocked(x, ny) {
			vy = -vy * bounce / 4
		} else {
			y = ny
		}
		vx = vx * friction / 16
		vy = vy * friction / 16
	}
	pos := Vec{float64(x) / mmPerM, float64(y) / mmPerM}
	vel := Vec{float64(vx) * TickRate / mmPerM, float64(vy) * TickRate / mmPerM}
	return pos, vel, vx != 0 || vy != 0
}
