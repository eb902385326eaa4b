package client_test

import (
	"context"
	"errors"
	"image/color"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/client"
	"github.com/objectsharing/oss/wissenheim/scene"
)

func id(b byte) uuid.UUID { return uuid.UUID{15: b} }

func room() *scene.Snapshot {
	return &scene.Snapshot{
		Index: 7,
		Room:  scene.RoomInfo{ID: id(100), Name: "hall", Size: scene.Vec{X: 20, Y: 10}, Walls: []scene.Rect{scene.R(9, 0, 10, 3)}},
		Avatars: []scene.AvatarState{
			{ID: id(1), Name: "ann", Color: color.RGBA{255, 40, 40, 255}, Pos: scene.Vec{X: 3, Y: 3}},
			{ID: id(2), Name: "bob", Color: color.RGBA{40, 255, 40, 255}, Pos: scene.Vec{X: 12, Y: 6}, Heading: math.Pi / 2, Holding: id(50)},
		},
		Props: []scene.PropState{
			{ID: id(50), Kind: scene.Ball, Name: "ball", Pos: scene.Vec{X: 12, Y: 6}, Holder: id(2)},
			{ID: id(51), Kind: scene.Box, Name: "box", Pos: scene.Vec{X: 3.5, Y: 3.5}},
			{ID: id(52), Kind: scene.Lamp, Name: "lamp", Pos: scene.Vec{X: 15, Y: 8}, On: true},
		},
		Chat: []scene.Message{{Index: 5, Avatar: id(1), From: "ann", Text: "hello"}},
	}
}

// colourAt returns the colour of the last sprite covering a pixel, as a
// renderer would leave it (text is taken to cover its whole box).
func colourAt(ss []client.Sprite, x, y float64) (color.RGBA, uuid.UUID) {
	var c color.RGBA
	var who uuid.UUID
	for _, s := range ss {
		in := false
		switch s.Shape {
		case client.Disk:
			in = math.Hypot(x-s.X, y-s.Y) <= s.W
		default:
			in = x >= s.X && x < s.X+s.W && y >= s.Y && y < s.Y+s.H
		}
		if in && s.Color.A == 255 {
			c, who = s.Color, s.ID
		}
	}
	return c, who
}

func TestLayoutPlacesEveryAvatarInItsColour(t *testing.T) {
	s := room()
	for _, cam := range []client.Camera{
		client.Fit(s.Room.Size, 800, 600),
		client.Follow(s.Room.Size, s.Avatars[0].Pos, client.DefaultScale, 800, 600),
	} {
		ss := client.Layout(&client.Frame{Room: s, Me: id(1), Overlay: []string{"players 2"}}, cam)
		for _, a := range s.Avatars {
			x, y := cam.ToScreen(a.Pos)
			if x < 0 || y < 0 || x >= 800 || y >= 600 {
				continue
			}
			if c, who := colourAt(ss, x, y); c != a.Color || who != a.ID {
				t.Errorf("scale %g: centre of %s at (%.0f, %.0f) is %v of %v, want %v", cam.Scale, a.Name, x, y, c, who, a.Color)
			}
		}
	}
}

// A renderer draws the frame on a screen it does not clear: the leading
// opaque rectangles must cover every pixel, and none twice, whatever part
// of the room the camera shows.
func TestLayoutTilesTheScreenOnce(t *testing.T) {
	s := room()
	const w, h = 200, 120
	for _, cam := range []client.Camera{
		client.Fit(s.Room.Size, w, h),
		client.Follow(s.Room.Size, scene.Vec{}, client.DefaultScale, w, h),
		client.Follow(s.Room.Size, s.Room.Size, client.DefaultScale, w, h),
		{Center: scene.Vec{X: 10, Y: 5}, Scale: 7.3, W: w, H: h},
		{Center: scene.Vec{X: 100, Y: 5}, Scale: 7.3, W: w, H: h}, // the room off the screen
	} {
		ss := client.Layout(&client.Frame{Room: s}, cam)
		var cover [w][h]int
		for _, sp := range ss {
			if sp.Shape != client.Rect || sp.Color.A != 255 {
				break
			}
			if sp.Color != client.Floor && sp.Color != client.Outside {
				continue // drawn over the floor
			}
			// A pixel is the rectangle's if its centre is in it, left
			// and top edges included, as a rasterizer decides.
			for x := range w {
				for y := range h {
					cx, cy := float64(x)+0.5, float64(y)+0.5
					if cx >= sp.X && cx < sp.X+sp.W && cy >= sp.Y && cy < sp.Y+sp.H {
						cover[x][y]++
					}
				}
			}
		}
		for x := range w {
			for y := range h {
				if cover[x][y] != 1 {
					t.Fatalf("camera %+v: pixel (%d, %d) covered %d times by the floor and the outside, want once", cam, x, y, cover[x][y])
				}
			}
		}
	}
}

func TestLayoutNamesBubblesAndCulling(t *testing.T) {
	s := room()
	texts := func(ss []client.Sprite) map[string]bool {
		m := map[string]bool{}
		for _, sp := range ss {
			if sp.Shape == client.Text {
				m[sp.Text] = true
			}
		}
		return m
	}
	near := client.Follow(s.Room.Size, s.Avatars[0].Pos, client.DefaultScale, 400, 300)
	got := texts(client.Layout(&client.Frame{Room: s, Typing: true, Line: "hi", Banner: "cannot reach"}, near))
	for _, want := range []string{"ann", "hello", "ann: hello", "say: hi_", "cannot reach"} {
		if !got[want] {
			t.Errorf("text %q not drawn; drawn: %v", want, got)
		}
	}
	if got["bob"] {
		t.Errorf("bob, off screen at scale %d, drawn", client.DefaultScale)
	}
	far := client.Fit(scene.Vec{X: 400, Y: 400}, 800, 600)
	if got := texts(client.Layout(&client.Frame{Room: s}, far)); got["ann"] {
		t.Errorf("names drawn at %g px/m", far.Scale)
	}
}

func TestInterpolatorGlidesBetweenSnapshots(t *testing.T) {
	var ip client.Interpolator
	t0 := time.Unix(1000, 0)
	s := room()
	ip.Observe(s, t0)
	// Still: drawn where it stands.
	if f := ip.Frame(t0.Add(time.Second)); f.Avatars[0].Pos != s.Avatars[0].Pos {
		t.Fatalf("still avatar drawn at %v", f.Avatars[0].Pos)
	}
	// It steps 0.15 m east, seen one second later: drawn moving over one
	// tick, DefaultDelay late.
	s2 := room()
	s2.Index = 8
	s2.Avatars[0].Pos.X += 0.15
	t1 := t0.Add(time.Second)
	ip.Observe(s2, t1)
	tick := time.Second / scene.TickRate
	var last float64
	for i := 0; i <= 10; i++ {
		at := t1.Add(client.DefaultDelay - tick + time.Duration(i)*tick/10)
		x := ip.Frame(at).Avatars[0].Pos.X
		if x < last-1e-9 || x < 3-1e-9 || x > 3.15+1e-9 {
			t.Fatalf("at step %d: x = %v (before %v)", i, x, last)
		}
		last = x
	}
	if last != 3.15 {
		t.Fatalf("after the glide x = %v, want 3.15", last)
	}
	if x := ip.Frame(t1.Add(client.DefaultDelay - tick/2)).Avatars[0].Pos.X; math.Abs(x-3.075) > 1e-9 {
		t.Fatalf("half way x = %v, want 3.075", x)
	}
	// An avatar that leaves is gone from the next frame.
	s3 := room()
	s3.Index = 9
	s3.Avatars = s3.Avatars[1:]
	ip.Observe(s3, t1.Add(tick))
	if f := ip.Frame(t1.Add(time.Second)); len(f.Avatars) != 1 || f.Avatars[0].Name != "bob" {
		t.Fatalf("after ann left: %v", f.Avatars)
	}
}

func TestControllerOneIntentPerTick(t *testing.T) {
	s := room()
	me := &s.Avatars[0] // at (3, 3), the box 0.7 m away
	var c client.Controller
	c.Frame(client.Keys{Right: true, Down: true, Use: true})
	if it := c.Next(me, s); it.Op != client.PickUp || it.Prop != id(51) {
		t.Fatalf("use next to the box: %+v", it)
	}
	it := c.Next(me, s)
	if it.Op != client.Move || math.Abs(it.D.Len()-client.WalkSpeed/scene.TickRate) > 1e-9 || it.D.X <= 0 || it.D.Y <= 0 || it.D.Len() > scene.MaxStep {
		t.Fatalf("walking south-east: %+v", it)
	}
	// Blocked diagonally, it slides along one axis, then the other.
	c.Done(it, scene.ErrBlocked)
	if it := c.Next(me, s); it.Op != client.Move || it.D.Y != 0 {
		t.Fatalf("after a blocked move: %+v", it)
	}
	c.Done(it, errors.Join(scene.ErrBlocked))
	if it := c.Next(me, s); it.Op != client.Move || it.D.X != 0 {
		t.Fatalf("after two blocked moves: %+v", it)
	}
	c.Frame(client.Keys{})
	if it := c.Next(me, s); it.Op != client.None {
		t.Fatalf("no key: %+v", it)
	}
	// Holding something, use drops it; kick kicks the held ball.
	bob := &s.Avatars[1]
	c.Frame(client.Keys{Use: true})
	if it := c.Next(bob, s); it.Op != client.Drop {
		t.Fatalf("use while holding: %+v", it)
	}
	c.Frame(client.Keys{Kick: true})
	if it := c.Next(bob, s); it.Op != client.Kick || it.Prop != id(50) || it.D.Y <= 0 {
		t.Fatalf("kick while holding a ball, facing south: %+v", it)
	}
	// Nothing within reach: the key is dropped.
	c.Frame(client.Keys{Toggle: true})
	if it := c.Next(me, s); it.Op != client.None {
		t.Fatalf("toggle with no lamp in reach: %+v", it)
	}
	// The chat line takes letters, not moves.
	c.Frame(client.Keys{Enter: true})
	c.Frame(client.Keys{W: true, Chars: []rune("hi w")})
	c.Frame(client.Keys{Backspace: true})
	if typing, line := c.Typing(); !typing || line != "hi " {
		t.Fatalf("typing %v %q", typing, line)
	}
	if it := c.Next(me, s); it.Op != client.None {
		t.Fatalf("W while typing: %+v", it)
	}
	c.Frame(client.Keys{Enter: true})
	if it := c.Next(me, s); it.Op != client.Say || it.Text != "hi " {
		t.Fatalf("enter: %+v", it)
	}
}

func TestPlayerWalksAndPicksUp(t *testing.T) {
	ctx := context.Background()
	node, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	h, err := node.CreateHeap(ctx, "world", nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := &scene.Spec{Rooms: []scene.RoomSpec{{Name: "yard", Size: scene.Vec{X: 10, Y: 10},
		Props: []scene.PropSpec{{Kind: scene.Box, Name: "crate", Pos: scene.Vec{X: 6, Y: 2}}}}}}
	w, err := scene.Create(ctx, h, spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := client.Join(ctx, w, "ann", &client.PlayerOptions{At: &scene.Vec{X: 2, Y: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	me := func() scene.AvatarState {
		var a scene.AvatarState
		if err := h.View(ctx, func(tx *oss.Tx) error { a, err = w.Avatar(tx, p.ID()); return err }, nil); err != nil {
			t.Fatal(err)
		}
		return a
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(recvDeadline); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v; avatar %+v", what, recvDeadline, me())
			}
		}
	}
	p.Controller().Frame(client.Keys{Right: true})
	waitFor("walk east to the crate", func() bool { return me().Pos.X >= 5.2 })
	p.Controller().Frame(client.Keys{Use: true})
	waitFor("pick up the crate", func() bool { return me().Holding != uuid.Nil })
	if c, _ := p.Ops(); c < 20 {
		t.Fatalf("%d interactions committed, want a move each tick", c)
	}
	// The window's view: the player's avatar, found by the reader.
	waitFor("the reader's snapshot", func() bool {
		s, err := p.Latest()
		return err == nil && p.Me(s) != nil && p.Me(s).Holding != uuid.Nil
	})
	if f := p.Frame(time.Now()); p.Me(f) == nil {
		t.Fatal("no frame")
	}
}
