package main

import (
	"os"
	"syscall"
	"testing"
)

// A window whose X server stops answering still ends on Ctrl-C, and
// closes its cluster first: its X calls never return, so the window
// never gets back to the frame that would see the signal's stop. Ctrl-C
// under xvfb-run once left a window so, its main thread spinning in
// Mesa's eglSwapBuffers on the connection to the X server the signal
// had ended, for a minute and more; a stopped X server holds the
// window's calls the same way, every time.
func TestWindowWhoseDisplayStallsEndsOnInterrupt(t *testing.T) {
	bin := buildClient(t)
	xvfbRun(t) // says what to install if Xvfb is missing
	display, xvfb := startXvfb(t)
	w := startDrawnWindow(t, bin, display)
	if err := xvfb.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	w.cmd.Process.Signal(os.Interrupt)
	werr := w.waitExit(t, "an interrupt with its X server stopped")
	xvfb.Process.Signal(syscall.SIGCONT)
	checkDisplayLostExit(t, werr, true, w.certs, w.stderr.String())
}
