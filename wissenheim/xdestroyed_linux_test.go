package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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
	tmp := t.TempDir()
	cmd := exec.Command(bin, "--nodes", "1", "--bots", "1", "--size", "320x200", "--probe")
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "TMPDIR="+tmp)
	stdin, err := cmd.StdinPipe() // held open: the probe ends when it closes
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{b: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	certs := make(chan string, 1)
	go func() { done <- waitDrawn(out, certs) }()
	var dir string
	select {
	case err := <-done:
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the window never drew the room (%v); stderr:\n%s", err, stderr.String())
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the window did not draw the room within 3 minutes; stderr:\n%s", stderr.String())
	case dir = <-certs:
	}
	x := exec.Command(xdotool, "search", "--name", "^Wissenheim", "windowclose")
	x.Env = append(os.Environ(), "DISPLAY="+display)
	if b, err := x.CombinedOutput(); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("xdotool windowclose: %v\n%s", err, b)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("the window did not exit within a minute of its X window's end; stderr:\n%s", stderr.String())
	}
	<-done
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "the X server refused a request of the window") {
		t.Errorf("its X window destroyed: %v, want exit status 1 saying what the X server refused; stderr:\n%s", werr, stderr.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the local cluster's temporary certificates %s are left behind (%v): the window did not close its cluster; stderr:\n%s", dir, err, stderr.String())
	}
}
