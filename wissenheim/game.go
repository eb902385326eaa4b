package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/client"
)

// windowOptions configure the window.
type windowOptions struct {
	w, h   int
	zoom   float64
	fit    bool
	vsync  bool
	frames int // draw this many frames after the player appears, report frame times and quit; 0: run
	// screenshot, if not empty, is where a PNG of the frame goes, drawn
	// once the player has been in view for shotAfter.
	screenshot string
	shotAfter  time.Duration
	probe      io.Writer // if not nil, a JSON line about every 10th frame drawn goes there
	autowalk   bool      // walk east and west without a keyboard
	noOverlay  bool      // leave the overlay out (O toggles it)
	// wantAvatars holds back the frames counted for --frames and
	// --screenshot until the room holds that many avatars: the bots
	// this process starts have all joined.
	wantAvatars int
	// compareEmpty, with frames, alternates blocks of emptyBlock frames
	// drawn as usual with blocks of empty ones (the screen cleared, no
	// sprites) and reports both: what the renderer costs on its own,
	// under the same load.
	compareEmpty bool
	// frameLog, with frames, gets a line for every measured frame (see
	// frameLogger): where a slow frame's time went.
	frameLog io.Writer
	// pace, with frames, is the period at which frames start, as a
	// display's refresh would pace them with vsync (Xvfb has none to wait
	// for): a frame starts at the first refresh after the previous one
	// was presented. Zero: as fast as the machine draws them.
	pace time.Duration
	stop *atomic.Bool
}

// emptyBlock is how many frames of one kind follow each other with
// --compare-empty.
const emptyBlock = 30

// frameStats are a measured run's figures of one kind of frame.
type frameStats struct {
	// time is a frame's own time: from the start of its Draw to the start
	// of the next frame's, its wait for the next refresh (with pace) left
	// out. It is the interval when frames are not paced.
	time *client.Durations
	// late counts the frames whose time exceeded the pace: with vsync,
	// each would have missed a refresh.
	late int
	// interval is the time from the start of one Draw to the start of
	// the next: the frame's Draw, Ebiten's flush of its draw commands to
	// the GPU (here Mesa's software renderer), the present, and the next
	// Update.
	interval *client.Durations
	// work is the wall time spent in Update and Draw for the frame, cpu
	// the CPU time the game's thread used in them (zero where the system
	// does not tell): the client's own share of a frame.
	work, cpu *client.Durations
	// proc is the CPU time the whole process used over the interval:
	// the game, Ebiten, the software renderer's threads, and the node
	// and whatever else the process runs meanwhile. Unlike the interval
	// it does not grow when other processes hold the cores.
	proc *client.Durations
}

func newFrameStats() frameStats {
	return frameStats{time: client.NewDurations(100000), interval: client.NewDurations(100000),
		work: client.NewDurations(100000), cpu: client.NewDurations(100000), proc: client.NewDurations(100000)}
}

// game is the Ebiten glue: keys to client.Keys, client.Sprites to
// pixels. Everything it decides is in package client.
type game struct {
	a *app
	o windowOptions

	drawer  *drawer
	sprites []client.Sprite
	frame   client.Frame

	frameTimes *client.Durations // intervals between frames, for the overlay
	full       frameStats        // frames measured, drawn as usual
	empty      frameStats        // with --compare-empty, empty frames
	lastDraw   time.Time
	refresh    time.Time     // with pace: the next refresh
	lastProc   time.Duration // the process's CPU time at lastDraw
	lastEmpty  bool          // the previous frame was an empty one
	updWall    time.Duration // spent in Update since the last Draw
	updCPU     time.Duration
	flog       frameLogger
	locked     bool      // the game's goroutine is locked to its thread
	drawn      int       // frames drawn
	seen       int       // frames drawn with the player in view
	seenAt     time.Time // when the player first was
	commits    client.Rate
	commitRate float64
	contact    string          // why the window's replica may be stale, checked each second
	commitText string          // the overlay's commit latencies, each second
	ft         []time.Duration // frame times' p50 and p99 for the overlay, each second
	checked    time.Time
	quit       bool
	pixels     []byte
	// direct: the frame is drawn on the final screen, not the offscreen
	// image (see DrawFinalScreen); all but a window making a screenshot.
	direct bool
	// lastStatus is when the last frame without a player started.
	lastStatus time.Time
}

func newGame(a *app, o windowOptions) *game {
	return &game{a: a, o: o, drawer: newDrawer(), frameTimes: client.NewDurations(100000),
		full: newFrameStats(), empty: newFrameStats(), direct: o.screenshot == ""}
}

func (g *game) Update() error {
	if g.o.frames > 0 && !g.locked {
		// The thread's CPU time is the goroutine's only while it is
		// locked to it.
		runtime.LockOSThread()
		g.locked = true
	}
	start := time.Now()
	cpu0, _ := threadCPU()
	defer func() {
		cpu1, _ := threadCPU()
		g.updWall += time.Since(start)
		g.updCPU += cpu1 - cpu0
	}()
	if g.quit || (g.o.stop != nil && g.o.stop.Load()) {
		return ebiten.Termination
	}
	p, _, _ := g.a.Status()
	var k client.Keys
	pressed := inpututil.IsKeyJustPressed
	held := ebiten.IsKeyPressed
	k.Up, k.Down, k.Left, k.Right = held(ebiten.KeyArrowUp), held(ebiten.KeyArrowDown), held(ebiten.KeyArrowLeft), held(ebiten.KeyArrowRight)
	k.W, k.A, k.S, k.D = held(ebiten.KeyW), held(ebiten.KeyA), held(ebiten.KeyS), held(ebiten.KeyD)
	k.Use = pressed(ebiten.KeyE) || pressed(ebiten.KeySpace)
	k.Kick, k.Toggle = pressed(ebiten.KeyF), pressed(ebiten.KeyT)
	k.Enter = pressed(ebiten.KeyEnter) || pressed(ebiten.KeyNumpadEnter)
	k.Escape, k.Backspace = pressed(ebiten.KeyEscape), pressed(ebiten.KeyBackspace)
	k.Chars = ebiten.AppendInputChars(k.Chars)
	if g.o.autowalk {
		// Three seconds east, three west: a player that keeps moving.
		east := time.Now().UnixMilli()/3000%2 == 0
		k.Right, k.Left = east, !east
	}
	if p == nil {
		return nil
	}
	ctl := p.Controller()
	if typing, _ := ctl.Typing(); !typing {
		switch {
		case pressed(ebiten.KeyTab):
			g.o.fit = !g.o.fit
		case pressed(ebiten.KeyO):
			g.o.noOverlay = !g.o.noOverlay
		case pressed(ebiten.KeyEqual) || pressed(ebiten.KeyKPAdd):
			g.o.zoom = math.Min(160, g.o.zoom*1.25)
		case pressed(ebiten.KeyMinus) || pressed(ebiten.KeyKPSubtract):
			g.o.zoom = math.Max(4, g.o.zoom/1.25)
		}
	}
	ctl.Frame(k)
	return nil
}

func (g *game) Layout(w, h int) (int, int) {
	g.o.w, g.o.h = w, h
	return w, h
}

func (g *game) Draw(screen *ebiten.Image) {
	end := time.Now() // the previous frame's end
	g.waitRefresh(end)
	now := time.Now()
	cpu0, cpuOK := threadCPU()
	g.measureInterval(end, now)
	empty := g.o.compareEmpty && g.seen > 0 && (g.seen/emptyBlock)%2 == 1
	defer g.measureWork(g.seen > 0, empty, now, cpu0, cpuOK)
	g.drawn++
	p, node, status := g.a.Status()
	f := &g.frame
	*f = client.Frame{Overlay: f.Overlay[:0], Help: "arrows/WASD walk  E pick up, drop, switch  F kick  T switch  Enter chat  Tab/+/- zoom  O overlay"}
	cam := client.Camera{Scale: g.o.zoom, W: g.o.w, H: g.o.h}
	if p == nil {
		g.waitStatusFrame(now)
		f.Banner = status
		if f.Banner == "" {
			f.Banner = "starting"
		}
	} else {
		cam = g.playerFrame(p, node, status, cam, now)
	}
	g.sprites = g.sprites[:0]
	if !empty {
		g.sprites = client.AppendLayout(g.sprites, f, cam)
	}
	if g.direct {
		g.drawer.touch(screen) // DrawFinalScreen draws the sprites
	} else {
		g.drawer.draw(screen, g.o.w, g.o.h, ebiten.GeoM{}, g.sprites)
	}
	g.after(screen, p, cam, now)
}

// statusFrame is the period of the frames of a window that has no player
// yet and shows only what it waits for (the cluster, a refusal): one line
// of text needs no more than ten frames a second, and the renderer's
// passes over every pixel at the display's rate, or as fast as they go
// where there is no vsync (Xvfb), would take most of a core while the
// window waits.
const statusFrame = 100 * time.Millisecond

// waitStatusFrame waits until a status frame is due.
func (g *game) waitStatusFrame(now time.Time) {
	if g.o.frames > 0 { // a measured run paces its frames itself (--fps)
		return
	}
	if wait := g.lastStatus.Add(statusFrame).Sub(now); wait > 0 {
		time.Sleep(wait)
		now = now.Add(wait)
	}
	g.lastStatus = now
}

// waitRefresh waits, when frames are paced, for the first refresh at or
// after now, as a present with vsync would have.
func (g *game) waitRefresh(now time.Time) {
	pace := g.o.pace
	if pace <= 0 || g.o.frames == 0 {
		return
	}
	next := nextRefresh(g.refresh, now, pace)
	time.Sleep(next.Sub(now))
	g.refresh = next.Add(pace)
}

// nextRefresh returns the first refresh at or after now, refreshes coming
// every pace from next (the one expected; zero: now is the first).
func nextRefresh(next, now time.Time, pace time.Duration) time.Time {
	if next.IsZero() {
		return now
	}
	if behind := now.Sub(next); behind > 0 {
		next = next.Add((behind + pace - 1) / pace * pace)
	}
	return next
}

// measureInterval counts, once frames are measured, the previous frame's
// time up to end (its draw, flush and present) and its interval up to
// now, the start of this frame (after its wait for a refresh), and the
// process's CPU time over the interval, for an empty frame or a full one.
func (g *game) measureInterval(end, now time.Time) {
	proc, procOK := processCPU()
	if !g.lastDraw.IsZero() && g.seen > 0 {
		st := &g.full
		if g.lastEmpty {
			st = &g.empty
		} else {
			g.frameTimes.Add(end.Sub(g.lastDraw))
		}
		st.time.Add(end.Sub(g.lastDraw))
		if g.o.pace > 0 && end.Sub(g.lastDraw) > g.o.pace {
			st.late++
		}
		st.interval.Add(now.Sub(g.lastDraw))
		if procOK {
			st.proc.Add(proc - g.lastProc)
		}
		if g.o.frameLog != nil {
			g.flog.interval(g.o.frameLog, end.Sub(g.lastDraw), now.Sub(g.lastDraw), proc-g.lastProc)
		}
	}
	g.lastDraw, g.lastProc = now, proc
}

// measureWork ends a frame begun at now, with the thread's CPU time at
// cpu0: if measured, it counts the frame's work (its update's and its
// draw's wall and CPU time) for an empty frame or a full one.
func (g *game) measureWork(measured, empty bool, now time.Time, cpu0 time.Duration, cpuOK bool) {
	if measured {
		st := &g.full
		if empty {
			st = &g.empty
		}
		st.work.Add(g.updWall + time.Since(now))
		var cpu time.Duration
		if cpuOK {
			cpu1, _ := threadCPU()
			cpu = g.updCPU + cpu1 - cpu0
			st.cpu.Add(cpu)
		}
		g.flog.work(empty, g.updWall+time.Since(now), cpu)
	}
	g.updWall, g.updCPU = 0, 0
	g.lastEmpty = empty
}

// playerFrame fills g.frame with what player p sees at now: its room, the
// overlay and a banner for an error; it returns cam, the camera on the
// room, fit to the window or following p's avatar. It counts the frames
// that show the avatars the window waits for.
func (g *game) playerFrame(p *client.Player, node *oss.Node, status string, cam client.Camera, now time.Time) client.Camera {
	f := &g.frame
	f.Room = p.Frame(now)
	f.Me = p.ID()
	f.Typing, f.Line = p.Controller().Typing()
	if f.Room != nil {
		me := client.Find(f.Room, f.Me)
		switch {
		case g.o.fit:
			cam = client.Fit(f.Room.Room.Size, g.o.w, g.o.h)
		case me != nil:
			cam = client.Follow(f.Room.Room.Size, me.Pos, g.o.zoom, g.o.w, g.o.h)
		}
		if me != nil && len(f.Room.Avatars) >= g.o.wantAvatars {
			if g.seen == 0 {
				g.seenAt = now
			}
			g.seen++
		}
	}
	g.overlay(p, g.a.cfg.name, node.Addr(), now)
	_, err := p.Latest()
	switch {
	case err != nil:
		f.Banner = "cannot read the local replica: " + err.Error()
	case g.contact != "":
		f.Banner = g.contact
	case f.Room != nil && len(f.Room.Damaged) > 0:
		f.Banner = fmt.Sprintf("%d damaged object(s) in this room (%s; written outside Wissenheim?): "+
			"left out, and repaired within seconds by the world's clock where they can be", len(f.Room.Damaged), f.Room.Damaged[0].Kind)
	}
	if status != "" {
		f.Overlay = append(f.Overlay, status)
	}
	if g.o.noOverlay {
		f.Overlay = f.Overlay[:0]
	}
	if n := p.Notice(now); n != "" {
		f.Overlay = append(f.Overlay, n)
	}
	return cam
}

// DrawFinalScreen draws the frame's sprites straight onto the window's
// screen, where Ebiten would copy the offscreen image there: for Mesa's
// software renderer the copy is a pass over every pixel, as long as
// drawing the frame. A window that saves a screenshot (--screenshot)
// draws on the offscreen, which Ebiten can read back, and has it copied;
// the window tests read what the X server shows instead.
func (g *game) DrawFinalScreen(screen ebiten.FinalScreen, offscreen *ebiten.Image, geoM ebiten.GeoM) {
	if !g.direct {
		ebiten.DefaultDrawFinalScreen(screen, offscreen, geoM)
		return
	}
	b := screen.Bounds()
	g.drawer.draw(screen, b.Dx(), b.Dy(), geoM, g.sprites)
}

// overlay fills the frame's overlay lines, and once a second checks how
// recently the window's replica heard from its group.
func (g *game) overlay(p *client.Player, name, addr string, now time.Time) {
	f := &g.frame
	w := p.World()
	if now.Sub(g.checked) >= time.Second {
		g.checked = now
		// Percentiles sort what they keep (up to 100,000 figures each):
		// once a second, not every frame.
		g.commitText, g.ft = commitLine(p.Latencies, g.a.botLat), g.frameTimes.Percentiles(50, 99)
		st := w.Heap().Stats()
		g.commitRate = g.commits.Observe(st.Applied, now)
		g.contact = ""
		if age := now.Sub(st.LeaderContact); st.LeaderContact.IsZero() || age > 3*time.Second {
			g.contact = fmt.Sprintf("lost contact with the cluster %.0fs ago: showing the last state this node has", age.Seconds())
			if st.LeaderContact.IsZero() {
				g.contact = "no contact with the cluster yet"
			}
		}
	}
	players, index := 0, uint64(0)
	if f.Room != nil {
		players, index = len(f.Room.Avatars), f.Room.Index
	}
	ft := g.ft
	f.Overlay = append(f.Overlay,
		fmt.Sprintf("Wissenheim: %s, room %s", w.Name(), p.Room()),
		fmt.Sprintf("players   %d", players),
		fmt.Sprintf("commits/s %.0f (the whole heap's, applied here)", g.commitRate),
		"commit    "+g.commitText,
		fmt.Sprintf("node      %s (client) at %s", name, addr),
		fmt.Sprintf("heap      %s, index %d", w.Heap().Name(), index),
		fmt.Sprintf("fps       %.0f (frame p50 %s p99 %s)", ebiten.ActualFPS(), msText(ft[0]), msText(ft[1])),
	)
}

// commitLine is the overlay's line of commit latencies: the player's
// and those of the bots of this process, each only once it has some (a
// window that joined a cluster runs no bots; a player who has not moved
// has committed nothing).
func commitLine(you, bots *client.Durations) string {
	figures := func(who string, d *client.Durations) string {
		p := d.Percentiles(50, 99)
		return fmt.Sprintf("%s p50 %s p99 %s", who, msText(p[0]), msText(p[1]))
	}
	line := "you: none yet"
	if you.Count() > 0 {
		line = figures("you", you)
	}
	if bots.Count() > 0 {
		line += "; " + figures("bots here", bots)
	}
	return line
}

func msText(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }

// after does what the options ask of a frame once it is drawn: a
// screenshot, a probe line, the end of a measured run.
func (g *game) after(screen *ebiten.Image, p *client.Player, cam client.Camera, now time.Time) {
	if g.o.probe != nil && g.drawn%10 == 1 {
		g.probe(p, cam)
	}
	if g.seen == 0 {
		return
	}
	if g.o.screenshot != "" && now.Sub(g.seenAt) >= g.o.shotAfter {
		if err := g.save(screen, g.o.screenshot); err != nil {
			fmt.Fprintln(os.Stderr, "wissenheim: screenshot:", err)
		} else {
			fmt.Fprintf(g.a.cfg.out, "wissenheim: wrote %s (%dx%d)\n", g.o.screenshot, g.o.w, g.o.h)
		}
		g.o.screenshot = ""
		if g.o.frames == 0 && g.o.probe == nil {
			g.quit = true
		}
	}
	if n := g.o.frames; n > 0 && (g.seen >= n && !g.o.compareEmpty || g.seen >= 2*n) {
		g.quit = true
	}
}

func (g *game) readPixels(screen *ebiten.Image) []byte {
	b := screen.Bounds()
	if n := 4 * b.Dx() * b.Dy(); len(g.pixels) != n {
		g.pixels = make([]byte, n)
	}
	screen.ReadPixels(g.pixels)
	return g.pixels
}

func (g *game) save(screen *ebiten.Image, path string) error {
	px := g.readPixels(screen)
	b := screen.Bounds()
	img := &image.RGBA{Pix: px, Stride: 4 * b.Dx(), Rect: image.Rect(0, 0, b.Dx(), b.Dy())}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// probeLine is what a probe writes about a frame: where the window is
// on the screen, the camera, and each avatar drawn, where (in the
// window's pixels) and in which colour. It reads nothing back: a test
// reads the pixels the X server shows.
type probeLine struct {
	Frame   int         `json:"frame"`
	Index   uint64      `json:"index"`
	Me      string      `json:"me"`
	Window  [2]int      `json:"window"` // the window's top left corner on the screen
	Camera  probeCamera `json:"camera"`
	Avatars []probeAv   `json:"avatars"`
	Banner  string      `json:"banner,omitempty"`
}

type probeCamera struct {
	X, Y, Scale float64
	W, H        int
}

type probeAv struct {
	ID    string     `json:"id"`
	Name  string     `json:"name"`
	Pos   [2]float64 `json:"pos"`
	X     int        `json:"x"`
	Y     int        `json:"y"`
	Color [3]uint8   `json:"color"`
}

func (g *game) probe(p *client.Player, cam client.Camera) {
	f := &g.frame
	l := probeLine{Frame: g.drawn, Banner: f.Banner, Camera: probeCamera{cam.Center.X, cam.Center.Y, cam.Scale, cam.W, cam.H}}
	l.Window[0], l.Window[1] = ebiten.WindowPosition()
	if p == nil || f.Room == nil {
		b, _ := json.Marshal(l)
		fmt.Fprintf(g.o.probe, "%s\n", b)
		return
	}
	l.Index, l.Me = f.Room.Index, p.ID().String()
	for _, a := range f.Room.Avatars {
		x, y := cam.ToScreen(a.Pos)
		l.Avatars = append(l.Avatars, probeAv{ID: a.ID.String(), Name: a.Name, Pos: [2]float64{a.Pos.X, a.Pos.Y},
			X: int(math.Floor(x)), Y: int(math.Floor(y)), Color: [3]uint8{a.Color.R, a.Color.G, a.Color.B}})
	}
	b, _ := json.Marshal(l)
	fmt.Fprintf(g.o.probe, "%s\n", b)
}
