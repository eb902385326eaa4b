package client

import (
	"image/color"
	"math"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// Shape says how a Sprite is drawn.
type Shape uint8

// The shapes of sprites.
const (
	// Rect fills the rectangle with corner (X, Y) and size W×H.
	Rect Shape = iota + 1
	// Disk fills the disk of centre (X, Y) and radius W.
	Disk
	// Text writes Text with its top-left corner at (X, Y), GlyphW×GlyphH
	// pixels a character, in Color.
	Text
)

// The size of a character of text, in pixels: the window draws text in
// a fixed-width bitmap font of this size.
const (
	GlyphW = 6
	GlyphH = 16
)

// Sprite is one thing to draw, in screen pixels. Sprites are drawn in the
// order Layout returns them, later ones over earlier ones.
type Sprite struct {
	Shape      Shape
	X, Y, W, H float64
	// Color is premultiplied, as color.RGBA is: a translucent colour
	// has every component at most its alpha.
	Color color.RGBA
	Text  string
	// ID is the avatar or prop the sprite depicts, uuid.Nil for the room,
	// labels and the overlay.
	ID uuid.UUID
}

// Frame is what one frame shows: a room, whose positions the
// Interpolator has already placed, and what is laid over it.
type Frame struct {
	Room *scene.Snapshot
	// Me is the player's avatar, drawn with a ring; uuid.Nil for none.
	Me uuid.UUID
	// Overlay lines are drawn at the top left.
	Overlay []string
	// Banner, if not empty, is drawn across the middle: a problem the
	// player must know about (the cluster cannot be reached).
	Banner string
	// Typing says the chat line is open, holding Line.
	Typing bool
	Line   string
	// Help is drawn at the bottom right.
	Help string
}

// Colours of what Layout draws. Avatars have their own colours; these
// are dark or grey where they could be mistaken for an avatar's.
var (
	Outside   = color.RGBA{24, 26, 32, 255}
	Floor     = color.RGBA{56, 62, 72, 255}
	FloorLine = color.RGBA{66, 72, 84, 255}
	Wall      = color.RGBA{138, 138, 148, 255}
	DoorShut  = color.RGBA{150, 92, 44, 255}
	DoorOpen  = color.RGBA{78, 96, 80, 255}
	BallColor = color.RGBA{236, 236, 236, 255}
	BoxColor  = color.RGBA{168, 118, 60, 255}
	LampOn    = color.RGBA{255, 222, 96, 255}
	LampOff   = color.RGBA{92, 90, 72, 255}
	LampGlow  = color.RGBA{56, 50, 26, 56}
	Edge      = color.RGBA{16, 16, 20, 255}
	MeRing    = color.RGBA{255, 255, 255, 255}
	LabelBack = color.RGBA{0, 0, 0, 150}
	LabelText = color.RGBA{232, 232, 232, 255}
	Bubble    = color.RGBA{250, 250, 244, 255}
	BubbleTxt = color.RGBA{24, 24, 28, 255}
	BannerBg  = color.RGBA{128, 28, 28, 230}
	White     = color.RGBA{255, 255, 255, 255}
)

const (
	// NamesFrom is the zoom, in pixels per metre, from which avatars'
	// names are drawn: below it they would cover each other.
	NamesFrom = 16
	// bubbles is how many of the latest chat messages show as bubbles
	// over their speakers.
	bubbles = 6
	// chatLines is how many of the latest chat messages the chat log at
	// the bottom left shows.
	chatLines = 6
	// maxBubble is the longest bubble, in characters.
	maxBubble = 40
	tile      = 4.0 // metres between the floor's lines
	// smallAvatar is the radius, in pixels, below which an avatar is one
	// disk, without its edge and heading.
	smallAvatar = 4
)

// Layout returns the sprites of a frame seen through cam: the room,
// props, avatars with their names and chat bubbles, then the chat log,
// the chat line, the overlay and the banner. The first sprites are
// opaque rectangles that tile the screen, each pixel once (the room's
// floor and the outside around it), so the screen need not be cleared
// first. Things wholly off the screen are left out. It is AppendLayout
// to a nil slice.
func Layout(f *Frame, cam Camera) []Sprite { return AppendLayout(nil, f, cam) }

// AppendLayout appends the sprites of a frame to dst and returns it: a
// renderer that keeps the slice between frames allocates nothing once it
// has grown.
func AppendLayout(dst []Sprite, f *Frame, cam Camera) []Sprite {
	l := layout{dst: dst, cam: cam, w: float64(cam.W), h: float64(cam.H)}
	if s := f.Room; s != nil {
		l.room(s)
		l.things(s, f.Me)
		l.chat(s)
	} else {
		l.rect(0, 0, l.w, l.h, Outside, uuid.Nil)
	}
	l.bottom(f)
	l.overlay(f.Overlay)
	if f.Banner != "" {
		w := float64(textWidth(f.Banner)) + 24
		x, y := (l.w-w)/2, l.h/2-GlyphH
		l.rect(x, y, w, 2*GlyphH, BannerBg, uuid.Nil)
		l.text(x+12, y+GlyphH/2, f.Banner, White)
	}
	return l.dst
}

type layout struct {
	dst  []Sprite
	cam  Camera
	w, h float64
}

func (l *layout) rect(x, y, w, h float64, c color.RGBA, id uuid.UUID) {
	if x+w < 0 || y+h < 0 || x > l.w || y > l.h || w <= 0 || h <= 0 {
		return
	}
	l.dst = append(l.dst, Sprite{Shape: Rect, X: x, Y: y, W: w, H: h, Color: c, ID: id})
}

func (l *layout) disk(x, y, r float64, c color.RGBA, id uuid.UUID) {
	if x+r < 0 || y+r < 0 || x-r > l.w || y-r > l.h {
		return
	}
	l.dst = append(l.dst, Sprite{Shape: Disk, X: x, Y: y, W: r, H: r, Color: c, ID: id})
}

func (l *layout) text(x, y float64, s string, c color.RGBA) {
	if s == "" || x+float64(textWidth(s)) < 0 || y+GlyphH < 0 || x > l.w || y > l.h {
		return
	}
	l.dst = append(l.dst, Sprite{Shape: Text, X: x, Y: y, W: float64(textWidth(s)), H: GlyphH, Color: c, Text: s})
}

// box draws a room rectangle.
func (l *layout) box(r scene.Rect, c color.RGBA, id uuid.UUID) {
	x0, y0 := l.cam.ToScreen(r.Min)
	x1, y1 := l.cam.ToScreen(r.Max)
	l.rect(x0, y0, x1-x0, y1-y0, c, id)
}

func (l *layout) room(s *scene.Snapshot) {
	size := s.Room.Size
	// The floor, cut to the screen, and the outside around it tile the
	// screen: a software renderer's frame costs its passes over the
	// pixels, and none is drawn twice.
	x0, y0 := l.cam.ToScreen(scene.Vec{})
	x1, y1 := l.cam.ToScreen(size)
	x0, y0 = clamp(x0, 0, l.w), clamp(y0, 0, l.h)
	x1, y1 = clamp(x1, x0, l.w), clamp(y1, y0, l.h)
	l.rect(0, 0, l.w, y0, Outside, uuid.Nil)
	l.rect(0, y1, l.w, l.h-y1, Outside, uuid.Nil)
	l.rect(0, y0, x0, y1-y0, Outside, uuid.Nil)
	l.rect(x1, y0, l.w-x1, y1-y0, Outside, uuid.Nil)
	l.rect(x0, y0, x1-x0, y1-y0, Floor, uuid.Nil)
	if l.cam.Scale*tile >= 24 {
		// Lines every few metres show the floor moving under a moving
		// camera; a line a pixel wide costs a software renderer little,
		// where tiles would fill the screen twice.
		min, max := l.cam.ToRoom(0, 0), l.cam.ToRoom(l.w, l.h)
		for t := math.Max(1, math.Ceil(min.X/tile)) * tile; t < math.Min(size.X, max.X); t += tile {
			x, _ := l.cam.ToScreen(scene.Vec{X: t})
			l.rect(math.Round(x), y0, 1, y1-y0, FloorLine, uuid.Nil)
		}
		for t := math.Max(1, math.Ceil(min.Y/tile)) * tile; t < math.Min(size.Y, max.Y); t += tile {
			_, y := l.cam.ToScreen(scene.Vec{Y: t})
			l.rect(x0, math.Round(y), x1-x0, 1, FloorLine, uuid.Nil)
		}
	}
	for _, w := range s.Room.Walls {
		l.box(w, Wall, uuid.Nil)
	}
	open := map[uuid.UUID]bool{}
	for _, p := range s.Props {
		if p.Kind == scene.Door {
			open[p.ID] = p.On
		}
	}
	for _, d := range s.Room.Doors {
		c := DoorShut
		if open[d.Prop] {
			c = DoorOpen
		}
		l.box(d.Rect, c, d.Prop)
	}
}

// propRadius is the size a prop is drawn at, in metres.
func propRadius(k scene.Kind) float64 {
	switch k {
	case scene.Ball:
		return scene.BallRadius
	case scene.Box:
		return 0.22
	}
	return 0.18
}

func (l *layout) prop(p *scene.PropState, at scene.Vec) {
	x, y := l.cam.ToScreen(at)
	r := propRadius(p.Kind) * l.cam.Scale
	switch p.Kind {
	case scene.Ball:
		l.disk(x, y, r+1, Edge, p.ID)
		l.disk(x, y, r, BallColor, p.ID)
	case scene.Box:
		l.rect(x-r-1, y-r-1, 2*r+2, 2*r+2, Edge, p.ID)
		l.rect(x-r, y-r, 2*r, 2*r, BoxColor, p.ID)
	case scene.Lamp:
		if p.On {
			l.disk(x, y, 1.5*l.cam.Scale, LampGlow, p.ID)
			l.disk(x, y, r+1, Edge, p.ID)
			l.disk(x, y, r, LampOn, p.ID)
		} else {
			l.disk(x, y, r+1, Edge, p.ID)
			l.disk(x, y, r, LampOff, p.ID)
		}
	}
}

func (l *layout) things(s *scene.Snapshot, me uuid.UUID) {
	held := map[uuid.UUID]*scene.PropState{}
	for i := range s.Props {
		p := &s.Props[i]
		if p.Kind == scene.Door {
			continue
		}
		if p.Holder != uuid.Nil {
			held[p.Holder] = p
			continue
		}
		l.prop(p, p.Pos)
	}
	r := scene.AvatarRadius * l.cam.Scale
	small := r < smallAvatar
	for i := range s.Avatars {
		a := &s.Avatars[i]
		x, y := l.cam.ToScreen(a.Pos)
		if a.ID == me {
			l.disk(x, y, math.Max(r, 1.5)+4, MeRing, a.ID)
		}
		if small {
			// Too small for an edge and a heading to show: one disk.
			l.disk(x, y, math.Max(r, 1.5), a.Color, a.ID)
			if p := held[a.ID]; p != nil {
				l.prop(p, a.Pos)
			}
			continue
		}
		l.disk(x, y, r+1.5, Edge, a.ID)
		l.disk(x, y, r, a.Color, a.ID)
		dx, dy := math.Cos(a.Heading), math.Sin(a.Heading)
		l.disk(x+0.62*r*dx, y+0.62*r*dy, math.Max(1.5, 0.2*r), Edge, a.ID)
		if p := held[a.ID]; p != nil {
			d := scene.AvatarRadius + 0.6*propRadius(p.Kind)
			l.prop(p, a.Pos.Add(scene.Vec{X: dx * d, Y: dy * d}))
		}
	}
	if l.cam.Scale < NamesFrom {
		return
	}
	said := map[uuid.UUID]string{}
	for _, m := range s.Chat[max(0, len(s.Chat)-bubbles):] {
		said[m.Avatar] = m.Text
	}
	for i := range s.Avatars {
		a := &s.Avatars[i]
		x, y := l.cam.ToScreen(a.Pos)
		w := float64(textWidth(a.Name))
		l.rect(x-w/2-2, y+r+3, w+4, GlyphH, LabelBack, uuid.Nil)
		l.text(x-w/2, y+r+3, a.Name, LabelText)
		if t, ok := said[a.ID]; ok {
			t = clip(t, maxBubble)
			w := float64(textWidth(t))
			by := y - r - 6 - GlyphH - 4
			l.rect(x-w/2-4, by, w+8, GlyphH+4, Bubble, uuid.Nil)
			l.rect(x-3, by+GlyphH+4, 6, 4, Bubble, uuid.Nil)
			l.text(x-w/2, by+2, t, BubbleTxt)
		}
	}
}

func (l *layout) chat(s *scene.Snapshot) {
	msgs := s.Chat[max(0, len(s.Chat)-chatLines):]
	y := l.h - float64(len(msgs)+2)*GlyphH - 8
	for _, m := range msgs {
		line := clip(m.From+": "+m.Text, 80)
		l.rect(4, y, float64(textWidth(line))+8, GlyphH, LabelBack, uuid.Nil)
		l.text(8, y, line, LabelText)
		y += GlyphH
	}
}

func (l *layout) bottom(f *Frame) {
	y := l.h - GlyphH - 6
	if f.Typing {
		line := "say: " + f.Line + "_"
		l.rect(4, y-2, math.Max(300, float64(textWidth(line))+8), GlyphH+4, Bubble, uuid.Nil)
		l.text(8, y, line, BubbleTxt)
	}
	if f.Help != "" {
		w := float64(textWidth(f.Help))
		l.rect(l.w-w-12, y-2, w+8, GlyphH+4, LabelBack, uuid.Nil)
		l.text(l.w-w-8, y, f.Help, LabelText)
	}
}

func (l *layout) overlay(lines []string) {
	if len(lines) == 0 {
		return
	}
	w := 0
	for _, s := range lines {
		w = max(w, textWidth(s))
	}
	l.rect(4, 4, float64(w)+12, float64(len(lines))*GlyphH+8, LabelBack, uuid.Nil)
	for i, s := range lines {
		l.text(10, 8+float64(i)*GlyphH, s, LabelText)
	}
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

func textWidth(s string) int { return utf8.RuneCountInString(s) * GlyphW }

// clip shortens s to at most n characters, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-3]) + "..."
}
