package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A window whose X window another client destroys (xdotool windowclose:
// XDestroyWindow) closes what it started before it exits, as one whose X
// server goes away does: the next request on the window is refused
// (BadWindow), and Xlib's default handler printed it and exited at once,
// status 1, the local cluster's temporary certificates and the avatar
// left as a crash leaves them. The exit status is 1, saying what the X
// server refused.
func TestWindowDestroyedByAnotherClientClosesFirst(t *testing.T) {
	bin := buildClient(t)
	xvfbRun(t) // says what to install if Xvfb is missing
	xdotool, err := exec.LookPath("xdotool")
	if err != nil {
		t.Fatalf("xdotool not found (%v): make x11-deps installs it (as root, with apt-get; see .ci/x11-deps)", err)
	}
	display, _ := startXvfb(t)
	w := startDrawnWindow(t, bin, display)
	x := exec.Command(xdotool, "search", "--name", "^Wissenheim", "windowclose")
	x.Env = append(os.Environ(), "DISPLAY="+display)
	if b, err := x.CombinedOutput(); err != nil {
		w.cmd.Process.Kill()
		w.cmd.Wait()
		t.Fatalf("xdotool windowclose: %v\n%s", err, b)
	}
	werr := w.waitExit(t, "its X window's end")
	stderr, dir := w.stderr, w.certs
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "the X server refused a request of the window") {
		t.Errorf("its X window destroyed: %v, want exit status 1 saying what the X server refused; stderr:\n%s", werr, stderr.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the local cluster's temporary certificates %s are left behind (%v): the window did not close its cluster; stderr:\n%s", dir, err, stderr.String())
	}
}
