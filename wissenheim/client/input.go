package client

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// Keys is what the keyboard did in one frame of the window.
type Keys struct {
	// Arrow keys and W, A, S, D held down.
	Up, Down, Left, Right bool
	W, A, S, D            bool
	// Keys pressed in this frame: E or space (use: pick up, drop, or
	// switch), F (kick), T (switch a lamp or a door), Enter (open or
	// send the chat line), Escape (close it), Backspace.
	Use, Kick, Toggle, Enter, Escape, Backspace bool
	// Chars are the characters typed in this frame, for the chat line.
	Chars []rune
}

// Op is an interaction with the world.
type Op uint8

// The interactions an Intent asks for.
const (
	None Op = iota
	Move
	PickUp
	Drop
	Kick
	Toggle
	Say
)

var opNames = [...]string{"none", "move", "pick up", "drop", "kick", "toggle", "say"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Intent is one interaction to make: one transaction.
type Intent struct {
	Op Op
	// D is a Move's step, or a Kick's velocity (metres per second).
	D scene.Vec
	// Prop is the prop picked up, kicked or switched.
	Prop uuid.UUID
	// Text is what Say says.
	Text string
}

// Speeds of the player.
const (
	// WalkSpeed is how fast an avatar walks while a direction is held,
	// in metres per second: a step of WalkSpeed/TickRate each tick.
	WalkSpeed = 3.0
	// KickSpeed is how fast a kicked ball starts, in metres per second.
	KickSpeed = 6.0
)

// action is a key pressed and not yet turned into an intent.
type action struct {
	op   Op // PickUp stands for "use"; Kick, Toggle, Say
	text string
}

// maxQueued bounds the pressed keys waiting for a tick: a player who
// hammers a key does not queue a backlog.
const maxQueued = 4

// Controller turns the keys of the window's frames into intents, at most
// one each tick: the window's goroutine calls Frame every frame, the
// player's sender goroutine Next every tick. Keys pressed (use, kick,
// switch, a chat line sent) are kept in order and made one a tick before
// any move; a direction held moves the avatar one step each tick. A
// Controller is safe for concurrent use.
type Controller struct {
	mu      sync.Mutex
	dir     scene.Vec // held, each axis -1, 0 or 1
	queue   []action
	typing  bool
	line    []rune
	blocked int // moves refused in a row while dir stayed the same
}

// Frame takes one frame's keys.
func (c *Controller) Frame(k Keys) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var dir scene.Vec
	axis := func(neg, pos bool) float64 {
		switch {
		case neg && !pos:
			return -1
		case pos && !neg:
			return 1
		}
		return 0
	}
	if c.typing {
		// Letters and space go to the chat line; the arrows still walk.
		dir = scene.Vec{X: axis(k.Left, k.Right), Y: axis(k.Up, k.Down)}
		switch {
		case k.Escape:
			c.typing, c.line = false, nil
		case k.Enter:
			if t := string(c.line); len(c.line) > 0 {
				c.push(action{op: Say, text: t})
			}
			c.typing, c.line = false, nil
		case k.Backspace:
			if len(c.line) > 0 {
				c.line = c.line[:len(c.line)-1]
			}
		}
		for _, r := range k.Chars {
			if r >= ' ' && r != 0x7f && len(string(c.line))+len(string(r)) <= scene.MaxText {
				c.line = append(c.line, r)
			}
		}
	} else {
		dir = scene.Vec{X: axis(k.Left || k.A, k.Right || k.D), Y: axis(k.Up || k.W, k.Down || k.S)}
		switch {
		case k.Enter:
			c.typing = true
		case k.Use:
			c.push(action{op: PickUp})
		case k.Kick:
			c.push(action{op: Kick})
		case k.Toggle:
			c.push(action{op: Toggle})
		}
	}
	if dir != c.dir {
		c.dir, c.blocked = dir, 0
	}
}

func (c *Controller) push(a action) {
	if len(c.queue) < maxQueued {
		c.queue = append(c.queue, a)
	}
}

// Typing says whether the chat line is open, and what it holds.
func (c *Controller) Typing() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.typing, string(c.line)
}

// Next returns the interaction to make this tick, given the player's
// avatar and its room as the latest snapshot shows them, or an Intent
// with Op None. A key pressed where it can do nothing (use with nothing
// within reach) is dropped, and the tick goes to a move if a direction
// is held.
func (c *Controller) Next(me *scene.AvatarState, s *scene.Snapshot) Intent {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 {
		a := c.queue[0]
		c.queue = c.queue[1:]
		if it := resolve(a, me, s); it.Op != None {
			return it
		}
	}
	if c.dir == (scene.Vec{}) {
		return Intent{}
	}
	d := c.dir
	if c.blocked > 0 && d.X != 0 && d.Y != 0 {
		// Blocked going diagonally: slide along one axis, then the other.
		if c.blocked%2 == 1 {
			d.Y = 0
		} else {
			d.X = 0
		}
	}
	return Intent{Op: Move, D: d.Scale(WalkSpeed / scene.TickRate / d.Len())}
}

// Done tells the controller how an intent it returned ended, so that a
// blocked diagonal walk slides along the wall. It returns what the player
// should be told, or "".
func (c *Controller) Done(it Intent, err error) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it.Op == Move {
		if errors.Is(err, scene.ErrBlocked) {
			c.blocked++
		} else if err == nil {
			c.blocked = 0
		}
		return ""
	}
	if err == nil {
		return ""
	}
	switch {
	case errors.Is(err, scene.ErrHeld):
		return "someone else holds it"
	case errors.Is(err, scene.ErrHandsFull):
		return "your hands are full"
	case errors.Is(err, scene.ErrTooFar):
		return "out of reach"
	case errors.Is(err, scene.ErrBlocked):
		return "something is in the way"
	case errors.Is(err, scene.ErrEmptyHands):
		return "you hold nothing"
	}
	return fmt.Sprintf("%v failed: %v", it.Op, err)
}

// resolve picks what a pressed key acts on: the nearest prop within
// Reach that can take it.
func resolve(a action, me *scene.AvatarState, s *scene.Snapshot) Intent {
	if a.op == Say {
		return Intent{Op: Say, Text: a.text}
	}
	if me == nil || s == nil {
		return Intent{}
	}
	switch a.op {
	case PickUp: // use
		if me.Holding != uuid.Nil {
			return Intent{Op: Drop}
		}
		if p := nearest(me, s, func(p *scene.PropState) bool {
			return (p.Kind == scene.Ball || p.Kind == scene.Box) && p.Holder == uuid.Nil
		}); p != nil {
			return Intent{Op: PickUp, Prop: p.ID}
		}
		if p := nearest(me, s, switchable); p != nil {
			return Intent{Op: Toggle, Prop: p.ID}
		}
	case Kick:
		v := scene.Vec{X: math.Cos(me.Heading), Y: math.Sin(me.Heading)}.Scale(KickSpeed)
		if me.Holding != uuid.Nil {
			for i := range s.Props {
				if p := &s.Props[i]; p.ID == me.Holding && p.Kind == scene.Ball {
					return Intent{Op: Kick, Prop: p.ID, D: v}
				}
			}
			return Intent{}
		}
		if p := nearest(me, s, func(p *scene.PropState) bool { return p.Kind == scene.Ball && p.Holder == uuid.Nil }); p != nil {
			return Intent{Op: Kick, Prop: p.ID, D: v}
		}
	case Toggle:
		if p := nearest(me, s, switchable); p != nil {
			return Intent{Op: Toggle, Prop: p.ID}
		}
	}
	return Intent{}
}

func switchable(p *scene.PropState) bool { return p.Kind == scene.Lamp || p.Kind == scene.Door }

// nearest returns the prop nearest to me, within Reach, that ok accepts.
// A door's distance is to its doorway, as the world measures it.
func nearest(me *scene.AvatarState, s *scene.Snapshot, ok func(*scene.PropState) bool) *scene.PropState {
	var best *scene.PropState
	bestD := math.Inf(1)
	for i := range s.Props {
		p := &s.Props[i]
		if !ok(p) {
			continue
		}
		d := p.Pos.Sub(me.Pos).Len()
		if p.Kind == scene.Door {
			for _, door := range s.Room.Doors {
				if door.Prop == p.ID {
					d = door.Rect.Dist(me.Pos)
				}
			}
		}
		if d <= scene.Reach && d < bestD {
			best, bestD = p, d
		}
	}
	return best
}
