package scene

import (
	"math/rand/v2"
	"testing"
)

// A roll is a pure function of the kick and the tick: evaluated at any
// tick, in any order, it gives the same place; the ball never enters a
// wall or leaves the room, and it stops.
func TestRollIsDeterministicAndStaysInTheRoom(t *testing.T) {
	spec := DemoSpec(200)
	r := &roomObj{Size: spec.Rooms[0].Size, Walls: spec.Rooms[0].Walls}
	obs := newObstacles(r)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var start Vec
		for {
			start = Vec{rng.Float64() * r.Size.X, rng.Float64() * r.Size.Y}
			if !obs.blocked(mm(start.X), mm(start.Y)) {
				break
			}
		}
		v := Vec{(rng.Float64()*2 - 1) * MaxKickSpeed, (rng.Float64()*2 - 1) * MaxKickSpeed}
		k := newRoll(start, v, 1000)
		var path []Vec
		stopped := false
		for tick := uint64(1000); tick < 1000+maxRollNo; tick++ {
			p, _, moving := k.at(&obs, tick)
			if obs.blocked(mm(p.X), mm(p.Y)) {
				t.Fatalf("kick %+v: at tick %d the ball is at %v, in a wall", k, tick, p)
			}
			path = append(path, p)
			if !moving {
				stopped = true
				break
			}
		}
		if !stopped {
			t.Fatalf("kick %+v never stopped", k)
		}
		for range 20 {
			i := rng.IntN(len(path))
			if p, _, _ := k.at(&obs, 1000+uint64(i)); p != path[i] {
				t.Fatalf("kick %+v at tick %d: %v, then %v", k, 1000+i, path[i], p)
			}
		}
		if p, _, _ := k.at(&obs, 10); p != path[0] {
			t.Fatalf("before the kick the ball is at %v, not where it was kicked from (%v)", p, path[0])
		}
	}
}

func TestCellsCoverTheDisk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		p := Vec{1 + rng.Float64()*20, 1 + rng.Float64()*20}
		cs := cellsOf(p)
		if len(cs) < 1 || len(cs) > 4 {
			t.Fatalf("%v covers %d cells", p, len(cs))
		}
		// Points of the disk lie in one of its cells.
		for range 20 {
			q := p.Add(Vec{(rng.Float64()*2 - 1) * AvatarRadius, (rng.Float64()*2 - 1) * AvatarRadius})
			if q.Sub(p).Len() >= AvatarRadius {
				continue
			}
			in := false
			for _, c := range cs {
				if cellRect(c).Dist(q) == 0 {
					in = true
				}
			}
			if !in {
				t.Fatalf("point %v of the disk at %v is in none of its cells %v", q, p, cs)
			}
		}
	}
}
