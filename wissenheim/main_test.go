package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// quiet is the test nodes' logger: errors only.
var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// The window tests run the client as a program under xvfb-run, as a
// player would run it: Ebiten allows one window per process, and it needs
// an X display. make test and .ci/run install xvfb; a machine without it
// fails these tests, saying so, rather than skipping them.

// buildClient builds the client, without cgo as Ebiten allows, into a
// temporary directory.
func buildClient(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wissenheim")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
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

func startWindow(t *testing.T, bin string, args ...string) *window {
	t.Helper()
	cmd := exec.Command(xvfbRun(t), append([]string{"-a", bin}, args...)...)
	cmd.Dir = t.TempDir()
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
// colours at seeded places, has a client process draw the room under
// Xvfb and write the frame it drew, and finds each avatar's colour in the
// frame's pixels where the scene puts it, and not a metre beside it.
func TestWindowDrawsEachAvatarWhereTheSceneIs(t *testing.T) {
	bin := buildClient(t)
	room := scene.RoomSpec{Name: "hall", Size: scene.Vec{X: 16, Y: 9},
		Props: []scene.PropSpec{{Kind: scene.Lamp, Name: "lamp", Pos: scene.Vec{X: 15, Y: 8.5}, On: true}}}
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
				pos: scene.Vec{X: float64(cx)*4 + 1 + rng.Float64()*2, Y: float64(cy)*4.5 + 1 + rng.Float64()*2},
				c:   color.RGBA{uint8(100 + rng.IntN(156)), uint8(rng.IntN(256)), uint8(100 + rng.IntN(156)), 255}}
			if _, err := w.Join(ctx, p.name, &scene.JoinOptions{At: &p.pos, Color: p.c}); err != nil {
				t.Fatal(err)
			}
			avatars = append(avatars, p)
		}
	}
	shot := filepath.Join(t.TempDir(), "frame.png")
	win := startWindow(t, bin, "--join", l.nodes[0].Addr(), "--certs", l.certs, "--name", "viewer", "--at", "1.5,1.5",
		"--fit", "--size", "640x360", "--overlay=false", "--screenshot", shot, "--shot-after", "500ms")
	select {
	case <-win.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("no screenshot within 3 minutes; stderr:\n%s", win.stderr)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("%v; stderr:\n%s", err, win.stderr)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
		t.Fatalf("frame is %v, want 640x360", b)
	}
	at := func(x, y float64) color.RGBA {
		return color.RGBAModel.Convert(img.At(int(math.Floor(x)), int(math.Floor(y)))).(color.RGBA)
	}
	cam := client.Fit(room.Size, 640, 360)
	r := scene.AvatarRadius * cam.Scale
	for _, a := range avatars {
		x, y := cam.ToScreen(a.pos)
		// The centre, and a few pixels around it inside the disk (the
		// heading mark is off the centre, towards the east).
		for _, d := range [][2]float64{{0, 0}, {-r / 3, 0}, {0, -r / 3}, {0, r / 3}} {
			if got := at(x+d[0], y+d[1]); !near(got, a.c) {
				t.Errorf("%s at %v: pixel (%.0f, %.0f) is %v, want its colour %v", a.name, a.pos, x+d[0], y+d[1], got, a.c)
			}
		}
		// A metre to the side is the floor, not the avatar.
		if got := at(x+cam.Scale, y); near(got, a.c) {
			t.Errorf("%s: its colour %v also a metre east of it", a.name, a.c)
		}
	}
}

// probe is one line of a window's --probe output.
type probe = probeLine

// TestTwoWindowsSeeEachOtherMove runs two client processes, each walking
// its avatar east and west from its keyboard path, and waits until each
// has drawn the other's avatar, in its colour (read back from its frame),
// at several places.
func TestTwoWindowsSeeEachOtherMove(t *testing.T) {
	bin := buildClient(t)
	l, _ := testCluster(t, scene.RoomSpec{Name: "hall", Size: scene.Vec{X: 16, Y: 9}}, "ann", "bob")
	common := []string{"--join", l.nodes[0].Addr(), "--certs", l.certs, "--fit", "--size", "480x270", "--overlay=false", "--probe", "--autowalk"}
	ann := startWindow(t, bin, append([]string{"--name", "ann", "--at", "3,3"}, common...)...)
	bob := startWindow(t, bin, append([]string{"--name", "bob", "--at", "3,6"}, common...)...)
	// seen collects the distinct pixels at which a window drew the other
	// avatar, in the other's colour.
	seen := func(w *window, other string, want int, deadline time.Time) {
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
					c := color.RGBA{a.Color[0], a.Color[1], a.Color[2], 255}
					px := color.RGBA{a.Pixel[0], a.Pixel[1], a.Pixel[2], 255}
					if a.Name == other && near(c, px) {
						xs[a.X] = true
					}
				}
			case <-timer.C:
				t.Fatalf("within the time given, %s was drawn in its colour at %d places, want %d; stderr:\n%s", other, len(xs), want, w.stderr)
			}
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	seen(ann, "bob", 5, deadline)
	seen(bob, "ann", 5, deadline)
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
	win := startWindow(t, bin, "--join", addr, "--certs", dir, "--name", "viewer", "--size", "320x200", "--probe")
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

// freePorts returns a port p such that UDP ports p to p+n-1 of the
// loopback address are free now.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(40000)
		ok := true
		for i := range n {
			pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			pc.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
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
	win := startWindow(t, bin, "--join", l.nodes[0].Addr(), "--certs", l.certs, "--name", "viewer",
		"--fit", "--size", "320x180", "--frames", "60", "--compare-empty", "--wait-avatars", "1")
	re := regexp.MustCompile(`^wissenheim: (frames drawn|empty frames): (\d+); interval p50 [0-9.]+ms p90 [0-9.]+ms p99 [0-9.]+ms max [0-9.]+ms; ` +
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
