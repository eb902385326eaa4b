// Command wissenheim is the Wissenheim client: a window onto a world kept
// in an OSS heap, drawn top-down from the local replica of a client node.
//
// With no flags it starts a cluster of three nodes in this process (on
// loopback QUIC with mutual TLS), a few bots, and a window; it prints the
// command with which a second window joins:
//
//	go run ./wissenheim
//	go run ./wissenheim --join 127.0.0.1:PORT --certs DIR --name player2
//
// With --join, --certs and --name it joins an existing cluster (ossd
// nodes) as a client node: DIR holds ca.crt, NAME.crt and NAME.key, a
// client certificate ("ossd cert issue --role client") granted the world's
// heap: write to play in it, admin to create it ("ossd acl grant --to NAME
// --heap wissenheim --perm admin"). --data-dir keeps
// the local cluster's world across restarts; --headless runs the cluster
// and bots without a window. --screenshot writes a PNG of the frame and
// quits; --frames N measures frame times and quits (--compare-empty adds
// as many empty frames, to show what the renderer costs on its own;
// --cpuprofile and --memprofile profile the process).
//
// Keys: arrows or WASD walk; E or space picks up, drops, or switches a
// lamp or a door; F kicks; T switches; Enter opens the chat line and
// sends it; Tab shows the whole room; + and - zoom; O hides the overlay.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/wissenheim/client"
	"github.com/objectsharing/oss/wissenheim/scene"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the flags are listed, as asked
	case err != nil:
		fmt.Fprintln(os.Stderr, "wissenheim:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	c, wo, f, err := parseArgs(args)
	if err != nil {
		return err
	}
	if len(c.join) > 0 { // a certificate that is not there will not appear: say so now, not in a window that retries
		if err := checkCerts(c.certs, c.name); err != nil {
			return err
		}
	}
	level := slog.LevelError
	if f.verbose {
		level = slog.LevelWarn
	}
	c.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	c.out = out

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	if f.memProfile != "" {
		defer writeAllocs(f.memProfile)
	}
	a := newApp(c)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	a.wg.Go(func() { a.start(f.headless) })

	if f.headless {
		fmt.Fprintln(out, "wissenheim: headless; interrupt to stop")
		select {
		case <-sig:
		case <-a.dead:
			return errors.Join(a.Fatal(), a.Close())
		}
		_, _, status := a.Status()
		if status != "" {
			fmt.Fprintln(out, "wissenheim:", status)
		}
		return a.Close()
	}
	return runWindow(a, c, wo, f, sig, out)
}

// writeAllocs writes the allocations profile (go tool pprof
// -sample_index=alloc_space) to path.
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wissenheim: memprofile:", err)
	}
}

// flags are the command line's flags that are not fields of a config or
// of windowOptions.
type flags struct {
	join, at, size                    string
	cpuProfile, memProfile            string
	frameLog                          string
	fps                               float64
	niceNode                          int
	headless, probe, overlay, verbose bool
	waitAvatars                       int
}

// parseArgs parses the command line args into the app's config, the
// window's options and the other flags, with the defaults that depend on
// other flags filled in, and checks them.
func parseArgs(args []string) (config, windowOptions, flags, error) {
	fs := flag.NewFlagSet("wissenheim", flag.ContinueOnError)
	var c config
	var wo windowOptions
	var f flags
	defineFlags(fs, &c, &wo, &f)
	if err := fs.Parse(args); err != nil {
		return c, wo, f, err
	}
	wo.noOverlay = !f.overlay
	if fs.NArg() > 0 {
		return c, wo, f, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.join != "" {
		c.join = strings.Split(f.join, ",")
		if c.certs == "" || c.name == "" {
			return c, wo, f, fmt.Errorf("--join needs --certs and --name: the client certificate NAME.crt in the directory --certs names")
		}
	}
	if err := checkAddrs(c, f.join); err != nil {
		return c, wo, f, err
	}
	if c.name == "" {
		c.name = os.Getenv("USER")
		if c.name == "" || c.name == "root" || len(c.name) > scene.MaxName || pki.CheckName(c.name) != nil || localName(c.name, c.nodes) {
			c.name = "player1"
		}
	}
	if len(c.name) > scene.MaxName { // before the certificate's limit of 63, which is not the one that holds
		return c, wo, f, fmt.Errorf("--name %q: %d bytes; a player's name in the world has at most %d", c.name, len(c.name), scene.MaxName)
	}
	if err := pki.CheckName(c.name); err != nil {
		return c, wo, f, fmt.Errorf("--name: %v (it names the player's node and certificate)", err)
	}
	if c.bots < -1 {
		return c, wo, f, fmt.Errorf("--bots %d: want 0 or more", c.bots)
	}
	if c.bots < 0 {
		c.bots = 0
		if len(c.join) == 0 {
			c.bots = 8
		}
	}
	if f.headless && len(c.join) > 0 && c.bots == 0 {
		return c, wo, f, fmt.Errorf("--headless with --join runs bots and nothing else: give --bots N")
	}
	if c.dataDir != "" && c.port == 0 {
		c.port = 7450
	}
	if c.nodes < 1 {
		return c, wo, f, fmt.Errorf("--nodes %d: want at least 1", c.nodes)
	}
	if f.at != "" {
		x, y, ok := strings.Cut(f.at, ",")
		fx, err1 := strconv.ParseFloat(x, 64)
		fy, err2 := strconv.ParseFloat(y, 64)
		if !ok || err1 != nil || err2 != nil {
			return c, wo, f, fmt.Errorf("--at %q: want X,Y", f.at)
		}
		c.at = &scene.Vec{X: fx, Y: fy}
	}
	if _, err := fmt.Sscanf(f.size, "%dx%d", &wo.w, &wo.h); err != nil || wo.w < 64 || wo.h < 64 {
		return c, wo, f, fmt.Errorf("--size %q: want WIDTHxHEIGHT", f.size)
	}
	return c, wo, f, checkRanges(c, wo, f)
}

// checkRanges refuses numbers and names no run can use: a port the local
// cluster's nodes cannot all listen on, rates and a zoom that are not
// positive, a heap no client may open, a player named as a local node or
// its bot. Each would otherwise show only later, as a cluster or bots
// retried for ever, or a panic.
func checkRanges(c config, wo windowOptions, f flags) error {
	positive := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	switch {
	case len(c.join) == 0 && localName(c.name, c.nodes):
		return fmt.Errorf("--name %q: the local cluster names its server nodes node1 to node%d and their bots nodeK-bot-N; give the player another name", c.name, c.nodes)
	case c.port < 0 || c.port+c.nodes-1 > 65535:
		return fmt.Errorf("--port %d: want 0 (any free port) or one from 1 to %d for %d nodes", c.port, 65535-c.nodes+1, c.nodes)
	case !positive(c.botRate):
		return fmt.Errorf("--bot-rate %v: want a positive number of steps a second", c.botRate)
	case !positive(wo.zoom):
		return fmt.Errorf("--zoom %v: want a positive number of pixels a metre", wo.zoom)
	case f.fps < 0 || math.IsNaN(f.fps) || math.IsInf(f.fps, 0):
		return fmt.Errorf("--fps %v: want 0 (as fast as frames are drawn) or a rate", f.fps)
	case wo.frames < 0:
		return fmt.Errorf("--frames %d: want 0 or more", wo.frames)
	case c.heap == "" || strings.HasPrefix(c.heap, "oss:"):
		return fmt.Errorf("--heap %q: want a heap's name (the prefix \"oss:\" is the system's)", c.heap)
	}
	return nil
}

// localName reports whether name is one a local cluster of the given
// number of nodes gives one of its server nodes (node1, …) or one of
// their bots (node2-bot-1): a player of that name would take the node's
// certificate (local.issue writes both under the name) or the bot's
// avatar name, which the bot then waits for for ever.
func localName(name string, nodes int) bool {
	rest, ok := strings.CutPrefix(name, "node")
	if !ok {
		return false
	}
	num, bot, isBot := strings.Cut(rest, "-bot-")
	canonical := func(s string) (int, bool) {
		v, err := strconv.Atoi(s)
		return v, err == nil && v >= 1 && strconv.Itoa(v) == s
	}
	if k, ok := canonical(num); !ok || k > nodes {
		return false
	}
	if !isBot {
		return true
	}
	_, ok = canonical(bot)
	return ok
}

// checkAddrs refuses addresses no node can use: a --listen that names
// no address of this machine (a host that does not resolve, a port out
// of range), which the player's node (or, headless, the bots' node) would
// try every few seconds for ever, and it is checked even where no node
// uses it (a local cluster's headless run), so that a typing error shows
// at once; and a --join address that is not HOST:PORT with a port a node
// can listen on. A --join host is not looked up: a name may resolve
// once its cluster is up.
func checkAddrs(c config, join string) error {
	addr, err := net.ResolveUDPAddr("udp", c.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: want HOST:PORT, an address of this machine for the player's node (127.0.0.1:0 picks a free port): %v", c.listen, err)
	}
	if addr.IP != nil && !addr.IP.IsUnspecified() {
		// Bound on a port of its own, so a port taken is the node's to
		// report: only an address that is not this machine's fails here.
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: addr.IP, Zone: addr.Zone})
		if err != nil {
			return fmt.Errorf("--listen %q: %s is no address of this machine (127.0.0.1:0 picks a free port on loopback): %v", c.listen, addr.IP, err)
		}
		pc.Close()
	}
	for _, addr := range c.join {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("--join %q: want HOST:PORT of a node, or several separated by commas: %v", join, err)
		}
		if p, err := net.LookupPort("udp", port); err != nil || p == 0 {
			return fmt.Errorf("--join %q: port %q of %s: want 1 to 65535", join, port, addr)
		}
	}
	return nil
}

// defineFlags defines the command's flags on fs, into c, wo and f.
func defineFlags(fs *flag.FlagSet, c *config, wo *windowOptions, f *flags) {
	fs.StringVar(&f.join, "join", "", "join the cluster at these addresses (comma-separated) as a client node, instead of starting a local one")
	fs.StringVar(&c.certs, "certs", "", "with --join: directory holding ca.crt, NAME.crt and NAME.key")
	fs.StringVar(&c.name, "name", "", "the player's name, and its node's (default: $USER, or player1)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "the UDP address of this client's node; other nodes must reach it there")
	fs.StringVar(&c.heap, "heap", "wissenheim", "the heap the world lives in")
	fs.StringVar(&c.world, "world", "wissenheim", "the world's name")
	fs.StringVar(&c.room, "room", "", "the room to join (default: the world's first)")
	fs.IntVar(&c.nodes, "nodes", 3, "without --join: server nodes of the local cluster")
	fs.StringVar(&c.dataDir, "data-dir", "", "without --join: keep the local cluster's world here, so that it outlives the process (and use ports from --port)")
	fs.IntVar(&c.port, "port", 0, "without --join: the local cluster's nodes listen on 127.0.0.1:PORT, PORT+1, … (default with --data-dir: 7450)")
	fs.IntVar(&c.bots, "bots", -1, "bots to run (default: 8 without --join, else 0)")
	fs.Float64Var(&c.botRate, "bot-rate", 20, "steps a second of each bot")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the bots")
	fs.StringVar(&f.at, "at", "", "X,Y: where the player joins, in metres (default: a free spot)")
	fs.BoolVar(&f.headless, "headless", false, "no window: run the cluster and the bots until interrupted")
	fs.StringVar(&f.size, "size", "1280x720", "the window's size in pixels")
	fs.Float64Var(&wo.zoom, "zoom", client.DefaultScale, "pixels per metre")
	fs.BoolVar(&wo.fit, "fit", false, "show the whole room (Tab toggles it)")
	fs.BoolVar(&wo.vsync, "vsync", true, "wait for the display's refresh; --frames turns it off to measure")
	fs.StringVar(&wo.screenshot, "screenshot", "", "write a PNG of the frame to this file once the player has been in view for --shot-after, then quit")
	fs.DurationVar(&wo.shotAfter, "shot-after", 3*time.Second, "see --screenshot")
	fs.IntVar(&wo.frames, "frames", 0, "draw this many frames once the player is in view (without vsync), print the frame times and quit")
	fs.BoolVar(&f.probe, "probe", false, "for tests: write a JSON line about every 10th frame to stdout (the window's place on the screen, each avatar drawn, where, in which colour); quit when stdin closes")
	fs.BoolVar(&f.overlay, "overlay", true, "draw the overlay (O toggles it)")
	fs.BoolVar(&wo.autowalk, "autowalk", false, "for tests and demos: walk east and west without a keyboard")
	fs.BoolVar(&f.verbose, "v", false, "log the nodes' warnings")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a profile of the process's allocations to this file when it ends")
	fs.BoolVar(&wo.compareEmpty, "compare-empty", false, "with --frames: also draw as many empty frames (the screen cleared, nothing on it), in alternate blocks of 30, and report them apart")
	fs.IntVar(&f.niceNode, "nice-node", 10, "with a window, on Linux: the nice value of the process's threads that do not draw (the node and its replica, the reader, the bots of this process), so that they yield the cores to the frame; 0 leaves them as they are")
	fs.Float64Var(&f.fps, "fps", 0, "with --frames: start frames at this rate, as a display's refresh paces them with vsync (Xvfb has none), and report each frame's own time apart from its wait; 0: as fast as they are drawn")
	fs.StringVar(&f.frameLog, "frame-log", "", "with --frames: write a line for every measured frame to this file (interval, CPU, time waiting for a core, collections)")
	fs.IntVar(&f.waitAvatars, "wait-avatars", 0, "with --frames or --screenshot: start once the room holds this many avatars (default without --join: the bots of --bots and the player)")
}

// runWindow runs app a's window until it is closed (or a signal on sig
// closes it), prints the frame times if wo asks for them, and closes a.
func runWindow(a *app, c config, wo windowOptions, f flags, sig <-chan os.Signal, out io.Writer) error {
	var stop atomic.Bool
	wo.stop = &stop
	closeApp := sync.OnceValue(a.Close)
	ended := make(chan struct{}) // the window's run has returned
	go closeOnStop(sig, a.dead, &stop, ended, closeApp)
	onDisplayLost(func(why string) { exitDisplayLost(closeApp, &stop, why) })
	if f.probe {
		wo.probe = out
		go func() { // the test that started the probe closes its stdin to end it
			io.Copy(io.Discard, bufio.NewReader(os.Stdin))
			stop.Store(true)
		}()
	}
	if len(c.join) == 0 {
		wo.wantAvatars = c.bots + 1
	}
	if f.waitAvatars > 0 {
		wo.wantAvatars = f.waitAvatars
	}
	if f.fps > 0 {
		wo.pace = time.Duration(float64(time.Second) / f.fps)
	}
	if f.frameLog != "" {
		fl, err := os.Create(f.frameLog)
		if err != nil {
			return errors.Join(err, a.Close())
		}
		bw := bufio.NewWriter(fl)
		defer func() { bw.Flush(); fl.Close() }()
		wo.frameLog = bw
	}
	g := newGame(a, wo)
	ebiten.SetWindowSize(wo.w, wo.h)
	ebiten.SetWindowTitle("Wissenheim: " + c.name)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetVsyncEnabled(wo.vsync && wo.frames == 0)
	// Every frame covers the whole screen first (the floor and the
	// outside, or the floor alone for an empty frame): Ebiten's clearing
	// it before would be one more pass over every pixel.
	ebiten.SetScreenClearedEveryFrame(false)
	windowGC()
	if f.niceNode > 0 {
		done := make(chan struct{})
		defer close(done)
		go yieldToFrames(f.niceNode, done)
	}
	// One thread: a frame's Update, Draw, the renderer's work and the
	// present follow each other, so a frame's time is measured whole
	// (Ebiten otherwise flushes a frame on its render thread while the
	// game draws the next), and the game's own share is small.
	runErr := ebiten.RunGameWithOptions(g, &ebiten.RunGameOptions{SingleThread: true})
	close(ended)
	if wo.frames > 0 {
		p, _, _ := a.Status()
		avatars := 0
		if p != nil {
			if s, _ := p.Latest(); s != nil {
				avatars = len(s.Avatars)
			}
		}
		fmt.Fprintf(out, "wissenheim: %d avatars in the room, %dx%d, zoom %s, %d CPUs, GOMAXPROCS %d\n",
			avatars, wo.w, wo.h, zoomName(wo), runtime.NumCPU(), runtime.GOMAXPROCS(0))
		report(out, "frames drawn", g.full, wo.pace)
		if wo.compareEmpty {
			report(out, "empty frames", g.empty, wo.pace)
		}
	}
	closeErr := closeApp()
	if runErr != nil {
		return windowFailed(runErr)
	}
	if err := a.Fatal(); err != nil {
		return errors.Join(err, closeErr)
	}
	return closeErr
}

// windowFailed returns the error the window's run ended with, saying
// what to do where the process has no display to open a window on
// (Ebiten's own words name only the last thing it tried, a framebuffer
// device).
func windowFailed(err error) error {
	if !strings.Contains(err.Error(), "no window system is available") {
		return err
	}
	return fmt.Errorf("no display to open the window on (DISPLAY=%q): run it on a desktop, under Xvfb (xvfb-run -a go run ./wissenheim; "+
		"apt-get install xvfb xauth), or with --headless for the cluster and the bots alone: %w", os.Getenv("DISPLAY"), err)
}

// closeOnStop sets stop, which closes the window, on a signal or once
// dead closes (the start failed for good); a second signal ends the
// process. A window that has not ended (ended closes) within
// stuckWindow of a signal is stuck in a call to its display, which
// never returns to see stop: Mesa's software renderer was seen to spin
// in eglSwapBuffers for a minute and more once the X server that
// Ctrl-C stopped with it was gone, where Xlib, which would call the
// handler of onDisplayLost, never saw the connection break. The app is
// then closed here, as the window would close it, and the process ends.
func closeOnStop(sig <-chan os.Signal, dead <-chan struct{}, stop *atomic.Bool, ended <-chan struct{}, closeApp func() error) {
	var stuck <-chan time.Time
	select {
	case <-sig:
		stuck = time.After(stuckWindow)
	case <-dead:
	}
	stop.Store(true)
	select {
	case <-sig:
	case <-ended: // the window ended: runWindow closes the app
		<-sig
	case <-stuck:
		fmt.Fprintf(os.Stderr, "wissenheim: the window did not close within %v of the signal (its display is gone or stalled): closing without it\n", stuckWindow)
		exitDisplayLost(closeApp, stop, "")
	}
	os.Exit(1)
}

// stuckWindow is how long closeOnStop waits, after a signal, for the
// window to end before it closes the app itself: a window that is not
// stuck closes within a frame of stop.
const stuckWindow = 10 * time.Second

// exitDisplayLost ends the process whose X server went away, or refused
// a request of its window (why says which), once it has closed the app as
// a window that is closed does: the exit status is 0 if a signal asked
// the window to stop (Ctrl-C reaches xvfb-run's X server too; the signal
// is looked at after the close, by when its handler has surely run), 1
// otherwise.
func exitDisplayLost(closeApp func() error, stopped *atomic.Bool, why string) {
	err := closeApp()
	code := 0
	if !stopped.Load() {
		fmt.Fprintln(os.Stderr, "wissenheim:", why)
		code = 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wissenheim:", err)
		code = 1
	}
	os.Exit(code)
}

// yieldToFrames sets, twice a second until done is closed, the nice value
// of every thread of the process that does not draw (see niceOthers):
// threads the runtime starts later inherit their creator's value, so
// the sweep repeats. The replica then applies what arrives in the time
// the frame leaves; a burst of commits no longer takes the cores a frame
// needs.
func yieldToFrames(nice int, done <-chan struct{}) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		niceOthers(nice)
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// windowGC has the collector run a quarter as often as Go's default
// (GOGC=400) unless GOGC says otherwise: a window's node allocates for
// every commit its replica applies, and a collection's few milliseconds
// of CPU land in frames. With a thousand avatars the heap then peaks at
// about 130 MB instead of 55 MB.
func windowGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// report prints a measured run's figures of one kind of frame.
func report(out io.Writer, what string, st frameStats, pace time.Duration) {
	ft := st.time.Percentiles(50, 90, 99, 100)
	iv := st.interval.Percentiles(50, 90, 99, 100)
	wk := st.work.Percentiles(50, 99)
	cpu := st.cpu.Percentiles(50, 99)
	proc := st.proc.Percentiles(50, 99)
	late := "not paced"
	if pace > 0 {
		late = fmt.Sprintf("over %.1fms %d", ms(pace), st.late)
	}
	fmt.Fprintf(out, "wissenheim: %s: %d; frame time p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms, %s; interval p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms; Update+Draw wall p50 %.2fms p99 %.2fms, CPU p50 %.2fms p99 %.2fms; process CPU p50 %.2fms p99 %.2fms\n",
		what, st.interval.Count(), ms(ft[0]), ms(ft[1]), ms(ft[2]), ms(ft[3]), late, ms(iv[0]), ms(iv[1]), ms(iv[2]), ms(iv[3]), ms(wk[0]), ms(wk[1]), ms(cpu[0]), ms(cpu[1]), ms(proc[0]), ms(proc[1]))
}

func zoomName(wo windowOptions) string {
	if wo.fit {
		return "whole room"
	}
	return fmt.Sprintf("%g px/m", wo.zoom)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
