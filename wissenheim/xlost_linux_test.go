package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A window whose X server goes away closes what it started before it
// exits, as one that is closed does: Ctrl-C in the terminal of
// "xvfb-run -a go run ./wissenheim" stops the X server with the client,
// and Xlib's default would exit at once, leaving the local cluster's
// temporary certificates behind. With the signal the exit status is 0;
// with the X server gone alone it is 1, saying why.
func TestWindowWhoseDisplayGoesAwayClosesFirst(t *testing.T) {
	bin := buildClient(t)
	xvfbRun(t) // says what to install if Xvfb is missing
	t.Run("ctrl-c", func(t *testing.T) { testDisplayGoesAway(t, bin, true) })
	t.Run("x server killed", func(t *testing.T) { testDisplayGoesAway(t, bin, false) })
}

func testDisplayGoesAway(t *testing.T, bin string, interrupt bool) {
	display, xvfb := startXvfb(t)
	w := startDrawnWindow(t, bin, display)
	if interrupt {
		w.cmd.Process.Signal(os.Interrupt)
		xvfb.Process.Signal(os.Interrupt)
	} else {
		xvfb.Process.Kill()
	}
	werr := w.waitExit(t, "losing its display")
	checkDisplayLostExit(t, werr, interrupt, w.certs, w.stderr.String())
}

// drawnWindow is a probe client on a display of the test's own that has
// drawn the room.
type drawnWindow struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	done   chan error // waitDrawn's end: after the room was drawn, stdout's
	certs  string     // the local cluster's temporary certificates
}

// startDrawnWindow starts the client with one node and one bot on
// display and waits, up to 3 minutes, until it has drawn the room.
func startDrawnWindow(t *testing.T, bin, display string) *drawnWindow {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(bin, "--nodes", "1", "--bots", "1", "--size", "320x200", "--probe")
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "TMPDIR="+tmp)
	stdin, err := cmd.StdinPipe() // held open: the probe ends when it closes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &drawnWindow{cmd: cmd, stderr: new(strings.Builder), done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{b: w.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	certs := make(chan string, 1)
	go func() { w.done <- waitDrawn(out, certs) }()
	select {
	case err := <-w.done:
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the window never drew the room (%v); stderr:\n%s", err, w.stderr.String())
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the window did not draw the room within 3 minutes; stderr:\n%s", w.stderr.String())
	case w.certs = <-certs:
	}
	return w
}

// waitExit waits up to a minute for the window to exit after what
// names, and returns how it exited.
func (w *drawnWindow) waitExit(t *testing.T, what string) error {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- w.cmd.Wait() }()
	select {
	case werr := <-exited:
		<-w.done
		return werr
	case <-time.After(time.Minute):
		// SIGQUIT: the Go runtime writes every goroutine's stack to
		// stderr, which says where the close waits.
		w.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			w.cmd.Process.Kill()
			<-exited
		}
		t.Fatalf("the window did not exit within a minute of %s; stderr:\n%s", what, w.stderr.String())
		return nil
	}
}

// checkDisplayLostExit checks how a window that lost its display ended.
func checkDisplayLostExit(t *testing.T, werr error, interrupt bool, certs, stderr string) {
	t.Helper()
	var ee *exec.ExitError
	code := 0
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	switch {
	case interrupt && code != 0:
		t.Errorf("interrupted, and its X server with it: exit status %d, want 0; stderr:\n%s", code, stderr)
	case !interrupt && (code != 1 || !strings.Contains(stderr, "the connection to the X display broke")):
		t.Errorf("its X server killed: exit status %d, want 1 saying why; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(certs); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the local cluster's temporary certificates %s are left behind (%v): the window did not close its cluster; stderr:\n%s", certs, err, stderr)
	}
}

var certsLine = regexp.MustCompile(`certificates in (\S+)`)

// waitDrawn reads the window's stdout until a probe line shows an
// avatar drawn, then sends the certificate directory it named on certs
// and drains the rest.
func waitDrawn(out io.Reader, certs chan<- string) error {
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	dir := ""
	for sc.Scan() {
		if m := certsLine.FindStringSubmatch(sc.Text()); m != nil {
			dir = m[1]
		}
		var p probe
		if dir != "" && json.Unmarshal(sc.Bytes(), &p) == nil && len(p.Avatars) > 0 {
			certs <- dir
			io.Copy(io.Discard, out)
			return nil
		}
	}
	return errors.New("stdout ended")
}

// startXvfb starts an X server of its own on a free display, which the
// test can stop apart from the client (xvfb-run hides it).
func startXvfb(t *testing.T) (string, *exec.Cmd) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "640x480x24")
	x.ExtraFiles = []*os.File{w}
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the test's own signals stay its own
	x.Dir = t.TempDir()
	if err := x.Start(); err != nil {
		w.Close()
		t.Fatalf("Xvfb: %v (see .ci/x11-deps)", err)
	}
	w.Close()
	t.Cleanup(func() { x.Process.Kill(); x.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not say its display: %v", err)
	}
	return ":" + strings.TrimSpace(line), x
}
