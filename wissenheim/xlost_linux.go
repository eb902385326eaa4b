package main

import (
	"bytes"
	"fmt"

	"github.com/ebitengine/purego"
)

// onDisplayLost has f run, with what happened, when the connection to
// the X server breaks or the server refuses a request (another client
// destroyed the window: BadWindow), in place of Xlib's defaults, which
// print a line and exit the process at once: Ctrl-C under xvfb-run
// stops the X server with the client, and the nodes, the avatars and a
// temporary certificate directory would be left as a crash leaves them.
// f must not return (Xlib exits when the I/O handler does); it runs on
// the thread whose X call failed. Errors that Ebiten expects (it sets a
// handler of its own around those calls, and puts the previous one
// back) do not reach f. Without libX11 (no window) it does nothing.
func onDisplayLost(f func(why string)) {
	lib, err := purego.Dlopen("libX11.so.6", purego.RTLD_LAZY|purego.RTLD_GLOBAL)
	if err != nil {
		return
	}
	ioSym, err := purego.Dlsym(lib, "XSetIOErrorHandler")
	if err != nil {
		return
	}
	var setIOErrorHandler func(handler uintptr) uintptr
	purego.RegisterFunc(&setIOErrorHandler, ioSym)
	setIOErrorHandler(purego.NewCallback(func(display uintptr) uintptr {
		f("the connection to the X display broke")
		return 0
	}))
	errSym, err := purego.Dlsym(lib, "XSetErrorHandler")
	if err != nil {
		return
	}
	var setErrorHandler func(handler uintptr) uintptr
	purego.RegisterFunc(&setErrorHandler, errSym)
	var errorText func(display uintptr, code int32, buf *byte, n int32) int32
	if sym, err := purego.Dlsym(lib, "XGetErrorText"); err == nil {
		purego.RegisterFunc(&errorText, sym)
	}
	setErrorHandler(purego.NewCallback(func(display uintptr, ev *xErrorEvent) uintptr {
		f(ev.describe(display, errorText))
		return 0
	}))
}

// xErrorEvent is Xlib's XErrorEvent on a 64-bit machine (LP64).
type xErrorEvent struct {
	typ         int32
	display     uintptr
	resource    uintptr
	serial      uintptr
	errorCode   uint8
	requestCode uint8
	minorCode   uint8
}

// describe says what the X server refused, as Xlib's default handler
// does in its first lines: the error's name (XGetErrorText, which that
// handler calls too), the request and the resource.
func (ev *xErrorEvent) describe(display uintptr, errorText func(uintptr, int32, *byte, int32) int32) string {
	name := fmt.Sprintf("error %d", ev.errorCode)
	if errorText != nil {
		buf := make([]byte, 256)
		errorText(display, int32(ev.errorCode), &buf[0], int32(len(buf)))
		if i := bytes.IndexByte(buf, 0); i > 0 {
			name = string(buf[:i])
		}
	}
	return fmt.Sprintf("the X server refused a request of the window (%s; request %d.%d, resource 0x%x): the window is gone or was never made",
		name, ev.requestCode, ev.minorCode, ev.resource)
}
