package scene

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DemoSpec returns a world sized for about the given number of avatars:
// a hall, split across the middle by a wall with doors and dotted with
// pillars, with about one ball for every 25 avatars, one box for every
// 50 and one lamp for every 100, and a small garden next to it. Bots,
// the benchmark and the client share it.
func DemoSpec(avatars int) *Spec {
	side := math.Ceil(max(24, math.Sqrt(float64(avatars)*8)))
	rng := rand.New(rand.NewPCG(uint64(avatars), 0x3155))
	hall := RoomSpec{Name: "hall", Size: Vec{side, side}}
	mid := side / 2
	// The middle wall, with a 2 m door every 12 m or so.
	doors := max(1, int(side/12))
	x := 0.0
	for i := range doors {
		gap := side * (float64(i) + 0.5) / float64(doors)
		hall.Walls = append(hall.Walls, R(x, mid-0.15, gap-1, mid+0.15))
		hall.Doors = append(hall.Doors, DoorSpec{Name: fmt.Sprintf("door %d", i+1), Rect: R(gap-1, mid-0.15, gap+1, mid+0.15), Open: true})
		x = gap + 1
	}
	hall.Walls = append(hall.Walls, R(x, mid-0.15, side, mid+0.15))
	// Pillars, away from the middle wall.
	for range int(side / 6) {
		p := Vec{2 + rng.Float64()*(side-4), 2 + rng.Float64()*(side-4)}
		if math.Abs(p.Y-mid) < 2 {
			continue
		}
		hall.Walls = append(hall.Walls, R(p.X-0.5, p.Y-0.5, p.X+0.5, p.Y+0.5))
	}
	free := func() Vec {
		for {
			p := Vec{1 + rng.Float64()*(side-2), 1 + rng.Float64()*(side-2)}
			ok := true
			for _, w := range hall.Walls {
				if w.Dist(p) < 1 {
					ok = false
				}
			}
			if ok {
				return p
			}
		}
	}
	add := func(k Kind, n int) {
		for i := range n {
			hall.Props = append(hall.Props, PropSpec{Kind: k, Name: fmt.Sprintf("%v %d", k, i+1), Pos: free(), On: k == Lamp})
		}
	}
	add(Ball, max(2, avatars/25))
	add(Box, max(2, avatars/50))
	add(Lamp, max(2, avatars/100))
	garden := RoomSpec{
		Name:  "garden",
		Size:  Vec{20, 14},
		Walls: []Rect{R(9, 0, 11, 4), R(9, 10, 11, 14)},
		Doors: []DoorSpec{{Name: "gate", Rect: R(9, 6, 11, 8), Open: true}},
		Props: []PropSpec{
			{Kind: Ball, Name: "red ball", Pos: Vec{5, 7}},
			{Kind: Box, Name: "crate", Pos: Vec{15, 3}},
			{Kind: Lamp, Name: "lantern", Pos: Vec{15, 11}, On: true},
		},
	}
	return &Spec{Rooms: []RoomSpec{hall, garden}}
}
