package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/wissenheim/client"
	"github.com/objectsharing/oss/wissenheim/scene"
	"go.uber.org/goleak"
)

// TestMain makes the directory the client is built into, once for the
// package (buildClient), and removes it when the tests end.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wissenheim-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	clientBuild.dir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// quiet is the test nodes' logger: errors only.
var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// The window tests run the client as a program under xvfb-run, as a
// player would run it: Ebiten allows one window per process, and it needs
// an X display. make test and .ci/run install xvfb; a machine without it
// fails these tests, saying so, rather than skipping them.

// clientBuild is the client the window and process tests run, built once:
// each of the ten tests built its own, a link of the whole client (Ebiten
// included) that took 5 to 10 s of CPU apiece on the 2-core machine.
var clientBuild struct {
	dir  string // made by TestMain
	once sync.Once
	bin  string
	err  error
}

// buildClient builds the client, without cgo as Ebiten allows, on its
// first call, and returns the binary the package's tests share (none
// changes it or writes beside it).
func buildClient(t *testing.T) string {
	t.Helper()
	clientBuild.once.Do(func() {
		bin := filepath.Join(clientBuild.dir, "wissenheim")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			clientBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		clientBuild.bin = bin
	})
	if clientBuild.err != nil {
		t.Fatal(clientBuild.err)
	}
	return clientBuild.bin
}

func xvfbRun(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("xvfb-run")
	if err != nil {
		t.Fatalf("xvfb-run not found (%v): the window tests run the client under Xvfb; "+
			"make x11-deps installs it and the libraries Ebiten loads (as root, with apt-get; see .ci/x11-deps), and make test does so first", err)
	}
	return p
}

// testCluster starts one server node on loopback QUIC with a fresh CA in
// dir, creates a world of one room in it, and issues client certificates
// for the given names.
func testCluster(t *testing.T, room scene.RoomSpec, guests ...string) (*local, *scene.World) {
	t.Helper()
	ctx := context.Background()
	l, err := startLocal(ctx, localOptions{nodes: 1, dataDir: t.TempDir(), guests: guests, logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(ctx) })
	h, err := l.nodes[0].CreateHeapIfNotExists(ctx, "wissenheim", &oss.HeapOptions{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	w, err := scene.Create(ctx, h, &scene.Spec{Rooms: []scene.RoomSpec{room}})
	if err != nil {
		t.Fatal(err)
	}
	return l, w
}

// window is a client process under xvfb-run.
type window struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *strings.Builder
	done   chan struct{}
}

func startWindow(t *testing.T, bin string, screen *xscreen, args ...string) *window {
	t.Helper()
	xargs := []string{"-a"}
	if screen != nil {
		xargs = append(xargs, "-s", screen.serverArgs())
	}
	cmd := exec.Command(xvfbRun(t), append(append(xargs, bin), args...)...)
	cmd.Dir = t.TempDir()
	// xvfb-run's X authority and the client's temporary certificates go
	// there too: a window killed at the end of a test leaves them.
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	w := &window{cmd: cmd, lines: make(chan string, 1024), stderr: &strings.Builder{}, done: make(chan struct{})}
	var err error
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{b: w.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			select {
			case w.lines <- sc.Text():
			default: // a test that stopped reading
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// stop closes the window's stdin, which ends a probe, and waits for it to
// exit, killing it if it does not within a minute.
func (w *window) stop(t *testing.T) {
	w.stdin.Close()
	select {
	case <-w.done:
	case <-time.After(time.Minute):
		w.cmd.Process.Kill()
		<-w.done
		t.Errorf("the window did not exit within a minute of its stdin closing; stderr:\n%s", w.stderr)
	}
	for range w.lines {
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) bool { return math.Abs(float64(x)-float64(y)) <= 3 }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

// TestWindowDrawsEachAvatarWhereTheSceneIs joins avatars of seeded
// colours at seeded places, has a client process draw the room in a
// window on Xvfb, and reads the pixels the X server shows (its
// framebuffer): each avatar's colour is where the scene puts it, and
// not a metre beside it. In a room six times as large the avatars are
// disks 3 pixels wide, as a thousand are in the whole room, which the
// window draws otherwise.
func TestWindowDrawsEachAvatarWhereTheSceneIs(t *testing.T) {
	bin := buildClient(t)
	for _, k := range []float64{1, 6} {
		t.Run(fmt.Sprintf("room×%g", k), func(t *testing.T) { testWindowDrawsEachAvatar(t, bin, k) })
	}
}

// testWindowDrawsEachAvatar is TestWindowDrawsEachAvatarWhereTheSceneIs
// in a room of 16 m × 9 m, every length times k.
func testWindowDrawsEachAvatar(t *testing.T, bin string, k float64) {
	v := func(x, y float64) scene.Vec { return scene.Vec{X: k * x, Y: k * y} }
	room := scene.RoomSpec{Name: "hall", Size: v(16, 9),
		Props: []scene.PropSpec{{Kind: scene.Lamp, Name: "lamp", Pos: v(15, 8.5), On: true}}}
	l, w := testCluster(t, room, "viewer")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(13, 2))
	type placed struct {
		name string
		pos  scene.Vec
		c    color.RGBA
	}
	var avatars []placed
	// One avatar in each 4 m × 4.5 m cell but the viewer's, away from the
	// cell's edges: names and rings never reach another's centre.
	for cy := range 2 {
		for cx := range 4 {
			if cx == 0 && cy == 0 {
				continue
			}
			p := placed{name: fmt.Sprintf("a%d%d", cx, cy),
				pos: v(float64(cx)*4+1+rng.Float64()*2, float64(cy)*4.5+1+rng.Float64()*2),
				c:   color.RGBA{uint8(100 + rng.IntN(156)), uint8(rng.IntN(256)), uint8(100 + rng.IntN(156)), 255}}
			if _, err := w.Join(ctx, p.name, &scene.JoinOptions{At: &p.pos, Color: p.c}); err != nil {
				t.Fatal(err)
			}
			avatars = append(avatars, p)
		}
	}
	// The screen is larger than the window, so the window's place on it
	// counts.
	screen := newXScreen(t, 800, 600)
	win := startWindow(t, bin, screen, "--join", l.nodes[0].Addr(), "--certs", l.certs, "--name", "viewer", "--at", fmt.Sprintf("%g,%g", 1.5*k, 1.5*k),
		"--fit", "--size", "640x360", "--overlay=false", "--probe")
	cam := client.Fit(room.Size, 640, 360)
	r := scene.AvatarRadius * cam.Scale
	// check reads the screen and returns what is not where it should be.
	check := func(p probe) []string {
		img, err := screen.read()
		if err != nil {
			t.Fatalf("reading the X server's screen: %v", err)
		}
		at := func(x, y float64) color.RGBA {
			return img.RGBAAt(p.Window[0]+int(math.Floor(x)), p.Window[1]+int(math.Floor(y)))
		}
		var wrong []string
		for _, a := range avatars {
			x, y := cam.ToScreen(a.pos)
			// The centre, and a few pixels around it inside the disk (the
			// heading mark is off the centre, towards the east) if it is
			// wide enough for whole pixels around its centre.
			around := [][2]float64{{0, 0}, {-r / 3, 0}, {0, -r / 3}, {0, r / 3}}
			if r < 4 {
				around = around[:1]
			}
			for _, d := range around {
				if got := at(x+d[0], y+d[1]); !near(got, a.c) {
					wrong = append(wrong, fmt.Sprintf("%s at %v: pixel (%.0f, %.0f) of the window at %v is %v, want its colour %v",
						a.name, a.pos, x+d[0], y+d[1], p.Window, got, a.c))
				}
			}
			// A metre to the side is the floor, not the avatar.
			if got := at(x+cam.Scale, y); near(got, a.c) {
				wrong = append(wrong, fmt.Sprintf("%s: its colour %v also a metre east of it", a.name, a.c))
			}
		}
		// The floor where nothing stands, and the outside beyond the
		// room's edge: the window draws on a screen it does not clear.
		for _, c := range []struct {
			what string
			at   scene.Vec
			want color.RGBA
		}{{"floor", v(0.3, 8.55), client.Floor}, {"outside", v(-0.4/k, 4), client.Outside}} {
			x, y := cam.ToScreen(c.at)
			if got := at(x, y); !near(got, c.want) {
				wrong = append(wrong, fmt.Sprintf("the %s at (%.0f, %.0f) is %v, want %v", c.what, x, y, got, c.want))
			}
		}
		return wrong
	}
	// Each probe line tells that the window drew a frame, and where the
	// window is; once a frame held every avatar, the screen must show
	// them (the probe is written before its frame is presented, so the
	// screen is read again on the next lines until it does).
	var wrong []string
	timer := time.NewTimer(3 * time.Minute)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-win.lines:
			if !ok {
				t.Fatalf("window ended; stderr:\n%s", win.stderr)
			}
			var p probe
			if json.Unmarshal([]byte(line), &p) != nil || len(p.Avatars) < len(avatars)+1 {
				continue
			}
			if p.Camera.Scale != cam.Scale || p.Camera.W != 640 || p.Camera.H != 360 {
				t.Fatalf("the window's camera is %+v, want the whole room at %.2f px/m on 640x360", p.Camera, cam.Scale)
			}
			if wrong = check(p); len(wrong) == 0 {
				return
			}
		case <-timer.C:
			t.Fatalf("within 3 minutes the screen did not show every avatar where the scene puts it: %s; stderr:\n%s",
				strings.Join(wrong, "; "), win.stderr)
		}
	}
}

// probe is one line of a window's --probe output.
type probe = probeLine

// TestTwoWindowsSeeEachOtherMove runs two client processes, each on its
// own Xvfb and walking its avatar east and west from its keyboard path,
// and waits until each window's screen has shown the other's avatar, in
// its colour, at several places where that window put it.
func TestTwoWindowsSeeEachOtherMove(t *testing.T) {
	bin := buildClient(t)
	room := scene.Vec{X: 16, Y: 9}
	l, _ := testCluster(t, scene.RoomSpec{Name: "hall", Size: room}, "ann", "bob")
	common := []string{"--join", l.nodes[0].Addr(), "--certs", l.certs, "--fit", "--size", "480x270", "--overlay=false", "--probe", "--autowalk"}
	annScreen, bobScreen := newXScreen(t, 640, 480), newXScreen(t, 640, 480)
	ann := startWindow(t, bin, annScreen, append([]string{"--name", "ann", "--at", "3,3"}, common...)...)
	bob := startWindow(t, bin, bobScreen, append([]string{"--name", "bob", "--at", "3,6"}, common...)...)
	r := scene.AvatarRadius * client.Fit(room, 480, 270).Scale
	// seen collects the distinct pixels at which a window's screen showed
	// the other avatar, in the other's colour: within its radius of where
	// the window's probe says it drew it (the probe is written before the
	// frame is presented, and the screen read a little after, while the
	// avatar moves on).
	seen := func(w *window, screen *xscreen, other string, want int, deadline time.Time) {
		t.Helper()
		xs := map[int]bool{}
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		for len(xs) < want {
			select {
			case line, ok := <-w.lines:
				if !ok {
					t.Fatalf("window ended; %d places of %s seen; stderr:\n%s", len(xs), other, w.stderr)
				}
				var p probe
				if json.Unmarshal([]byte(line), &p) != nil {
					continue
				}
				if os.Getenv("DEBUGPROBE") != "" {
					t.Logf("%s: %s", other, line)
				}
				for _, a := range p.Avatars {
					if a.Name != other {
						continue
					}
					img, err := screen.read()
					if err != nil {
						t.Fatalf("reading the X server's screen: %v", err)
					}
					c := color.RGBA{a.Color[0], a.Color[1], a.Color[2], 255}
					if shownNear(img, p.Window[0]+a.X, p.Window[1]+a.Y, r, c) {
						xs[a.X] = true
					}
				}
			case <-timer.C:
				t.Fatalf("within the time given, %s was shown in its colour at %d places, want %d; stderr:\n%s", other, len(xs), want, w.stderr)
			}
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	seen(ann, annScreen, "bob", 5, deadline)
	seen(bob, bobScreen, "ann", 5, deadline)
}

// shownNear reports whether a pixel within r of (x, y) has colour c.
func shownNear(img *image.RGBA, x, y int, r float64, c color.RGBA) bool {
	n := int(r)
	for dy := -n; dy <= n; dy++ {
		for dx := -n; dx <= n; dx++ {
			if float64(dx*dx+dy*dy) <= r*r && near(img.RGBAAt(x+dx, y+dy), c) {
				return true
			}
		}
	}
	return false
}

// TestScreenshotIsWhatTheScreenShows has a window write a screenshot
// (--screenshot, the README's picture), which it draws on Ebiten's
// offscreen image to read it back, and finds the same pixels on the X
// server's screen, in the window: what the file shows is what a player
// sees.
func TestScreenshotIsWhatTheScreenShows(t *testing.T) {
	bin := buildClient(t)
	room := scene.RoomSpec{Name: "hall", Size: scene.Vec{X: 16, Y: 9},
		Props: []scene.PropSpec{{Kind: scene.Lamp, Name: "lamp", Pos: scene.Vec{X: 12, Y: 3}, On: true}}}
	l, w := testCluster(t, room, "viewer")
	if _, err := w.Join(context.Background(), "ada", &scene.JoinOptions{At: &scene.Vec{X: 8, Y: 5}}); err != nil {
		t.Fatal(err)
	}
	screen := newXScreen(t, 640, 480)
	shot := filepath.Join(t.TempDir(), "shot.png")
	win := startWindow(t, bin, screen, "--join", l.nodes[0].Addr(), "--certs", l.certs, "--name", "viewer", "--at", "3,3",
		"--fit", "--size", "480x270", "--overlay=false", "--probe", "--screenshot", shot, "--shot-after", "300ms")
	var img image.Image
	var diff string
	timer := time.NewTimer(3 * time.Minute)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-win.lines:
			if !ok {
				t.Fatalf("window ended; stderr:\n%s", win.stderr)
			}
			if strings.HasPrefix(line, "wissenheim: wrote ") {
				f, err := os.Open(shot)
				if err != nil {
					t.Fatal(err)
				}
				img, err = png.Decode(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				continue
			}
			var p probe
			if img == nil || json.Unmarshal([]byte(line), &p) != nil {
				continue
			}
			scr, err := screen.read()
			if err != nil {
				t.Fatalf("reading the X server's screen: %v", err)
			}
			// The scene stands still, so the frames after the screenshot
			// are the same picture.
			b := img.Bounds()
			differ, first := 0, ""
			for y := range b.Dy() {
				for x := range b.Dx() {
					want := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
					if got := scr.RGBAAt(p.Window[0]+x, p.Window[1]+y); !near(got, want) {
						if differ == 0 {
							first = fmt.Sprintf("(%d, %d) is %v on the screen, %v in the file", x, y, got, want)
						}
						differ++
					}
				}
			}
			if differ == 0 {
				return
			}
			diff = fmt.Sprintf("%d of %d pixels differ, the first %s", differ, b.Dx()*b.Dy(), first)
		case <-timer.C:
			if img == nil {
				t.Fatalf("no screenshot within 3 minutes; stderr:\n%s", win.stderr)
			}
			t.Fatalf("the screen never showed the screenshot's picture: %s; stderr:\n%s", diff, win.stderr)
		}
	}
}

// TestWindowSaysWhenItCannotReachTheCluster starts a window whose cluster
// is not there: it keeps drawing frames, and they say so.
func TestWindowSaysWhenItCannotReachTheCluster(t *testing.T) {
	bin := buildClient(t)
	dir := t.TempDir()
	ca, key, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, ckey, err := pki.IssueCert(ca, key, "viewer", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"ca.crt": ca, "viewer.crt": cert, "viewer.key": ckey} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// An address nobody listens on.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	win := startWindow(t, bin, nil, "--join", addr, "--certs", dir, "--name", "viewer", "--size", "320x200", "--probe")
	var banners []string
	timer := time.NewTimer(3 * time.Minute)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-win.lines:
			if !ok {
				t.Fatalf("window ended; banners %q; stderr:\n%s", banners, win.stderr)
			}
			var p probe
			if json.Unmarshal([]byte(line), &p) != nil {
				continue
			}
			if len(banners) == 0 || banners[len(banners)-1] != p.Banner {
				banners = append(banners, p.Banner)
			}
			if strings.Contains(p.Banner, "cannot reach the cluster at "+addr) {
				return
			}
		case <-timer.C:
			t.Fatalf("no frame said the cluster cannot be reached; banners drawn: %q; stderr:\n%s", banners, win.stderr)
		}
	}
}

// handedPorts holds the ports freePorts handed out, so that tests running
// in parallel never get the same ones: a port handed out is free when
// it is checked, and stays unbound until its test's nodes listen on it
// (a cluster restarted on its ports unbinds them in between).
var handedPorts struct {
	mu    sync.Mutex
	ports map[int]bool
}

// freePorts returns a port p such that UDP ports p to p+n-1 of the
// loopback address are free now and were handed out to no other test of
// the package. They lie below the kernel's ephemeral range
// (portBand), which no socket bound at :0 and no outgoing connection of
// this or another process is given: a port handed out stays unbound
// until its test's nodes listen on it, and a cluster restarted on its
// ports unbinds them in between.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	handedPorts.mu.Lock()
	defer handedPorts.mu.Unlock()
	if handedPorts.ports == nil {
		handedPorts.ports = map[int]bool{}
	}
	for range 100 {
		lo, hi := portBand()
		base := lo + rand.IntN(hi-lo-n)
		ok := true
		for i := range n {
			if handedPorts.ports[base+i] {
				ok = false
				break
			}
			pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			pc.Close()
		}
		if ok {
			for i := range n {
				handedPorts.ports[base+i] = true
			}
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// portBand returns the ports freePorts picks from: [8192, 16384) below
// an ephemeral range that starts at 32768, as Linux's does by default
// (oss/ossdtest picks from the 16384 ports just below it, for processes
// that may run beside these), and 20000 to 60000 where the range is
// unknown or starts lower.
func portBand() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		if first, err := strconv.Atoi(f[0]); err == nil && first >= 32768 {
			return first - 24576, first - 16384
		}
	}
	return 20000, 60000
}

// TestFramesReportsDrawnAndEmptyFrames measures a short run with
// --frames and --compare-empty and finds both kinds of frame reported:
// the interval between frames, the wall and CPU time of Update and
// Draw, and the process's CPU time per frame (CPU times are measured on
// Linux, so they are not zero).
func TestFramesReportsDrawnAndEmptyFrames(t *testing.T) {
	bin := buildClient(t)
	room := scene.RoomSpec{Name: "hall", Size: scene.Vec{X: 16, Y: 9}}
	l, _ := testCluster(t, room, "viewer")
	win := startWindow(t, bin, nil, "--join", l.nodes[0].Addr(), "--certs", l.certs, "--name", "viewer",
		"--fit", "--size", "320x180", "--frames", "60", "--compare-empty", "--wait-avatars", "1")
	re := regexp.MustCompile(`^wissenheim: (frames drawn|empty frames): (\d+); frame time p50 [0-9.]+ms p90 [0-9.]+ms p99 [0-9.]+ms max [0-9.]+ms, not paced; ` +
		`interval p50 [0-9.]+ms p90 [0-9.]+ms p99 [0-9.]+ms max [0-9.]+ms; ` +
		`Update\+Draw wall p50 [0-9.]+ms p99 [0-9.]+ms, CPU p50 ([0-9.]+)ms p99 [0-9.]+ms; process CPU p50 ([0-9.]+)ms p99 [0-9.]+ms$`)
	found := map[string]bool{}
	timer := time.NewTimer(3 * time.Minute)
	defer timer.Stop()
	for len(found) < 2 {
		select {
		case line, ok := <-win.lines:
			if !ok {
				t.Fatalf("window ended having reported %v; stderr:\n%s", found, win.stderr)
			}
			m := re.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if n, _ := strconv.Atoi(m[2]); n < 50 {
				t.Errorf("%q: want about 60 frames of the kind", line)
			}
			if runtime.GOOS == "linux" && (m[3] == "0.00" || m[4] == "0.00") {
				t.Errorf("%q: no CPU time measured", line)
			}
			found[m[1]] = true
		case <-timer.C:
			t.Fatalf("no report of both kinds of frame within 3 minutes (found %v); stderr:\n%s", found, win.stderr)
		}
	}
}

// TestPacedFramesWaitForTheRefresh runs a window with --frames and --fps
// 20, as a display refreshing 20 times a second with vsync would pace
// it: a frame starts at the first refresh after the one before ends, so
// the interval is about 50 ms however fast the machine draws (a refresh
// every 50 ms; a frame woken a little late makes its interval that much
// longer and the next one's that much shorter, so the median is 50 ms
// give or take the timer's lateness, and 45 ms is the bound), a frame's
// own time (its wait left out) is never more than its interval, and
// --frame-log has a line for each frame.
func TestPacedFramesWaitForTheRefresh(t *testing.T) {
	bin := buildClient(t)
	room := scene.RoomSpec{Name: "hall", Size: scene.Vec{X: 16, Y: 9}}
	l, _ := testCluster(t, room, "viewer")
	flog := filepath.Join(t.TempDir(), "frames.log")
	win := startWindow(t, bin, nil, "--join", l.nodes[0].Addr(), "--certs", l.certs, "--name", "viewer",
		"--fit", "--size", "320x180", "--frames", "40", "--fps", "20", "--frame-log", flog, "--wait-avatars", "1")
	re := regexp.MustCompile(`^wissenheim: frames drawn: (\d+); frame time p50 ([0-9.]+)ms .*, over 50.0ms (\d+); interval p50 ([0-9.]+)ms `)
	timer := time.NewTimer(3 * time.Minute)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-win.lines:
			if !ok {
				t.Fatalf("window ended without a report of paced frames; stderr:\n%s", win.stderr)
			}
			m := re.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			ft, _ := strconv.ParseFloat(m[2], 64)
			iv, _ := strconv.ParseFloat(m[4], 64)
			if iv < 45 {
				t.Errorf("%q: frames 20 a second started less than 45 ms apart (median)", line)
			}
			if ft > iv {
				t.Errorf("%q: a frame's time exceeds its interval", line)
			}
			win.stop(t)
			data, err := os.ReadFile(flog)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(data), "\ndrawn "); n < 35 {
				t.Errorf("the frame log has %d lines of drawn frames, want about 40:\n%s", n, data)
			}
			return
		case <-timer.C:
			t.Fatalf("no report of paced frames within 3 minutes; stderr:\n%s", win.stderr)
		}
	}
}
