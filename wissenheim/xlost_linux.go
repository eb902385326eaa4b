package main

import "github.com/ebitengine/purego"

// onDisplayLost has f run when the connection to the X server breaks, in
// place of Xlib's default, which prints "X connection broken" and exits
// the process at once: Ctrl-C under xvfb-run stops the X server with the
// client, and the nodes, the avatars and a temporary certificate
// directory would be left as a crash leaves them. f must not return
// (Xlib exits when it does); it runs on the thread whose X call failed.
// Without libX11 (no window) it does nothing.
func onDisplayLost(f func()) {
	lib, err := purego.Dlopen("libX11.so.6", purego.RTLD_LAZY|purego.RTLD_GLOBAL)
	if err != nil {
		return
	}
	sym, err := purego.Dlsym(lib, "XSetIOErrorHandler")
	if err != nil {
		return
	}
	var setIOErrorHandler func(handler uintptr) uintptr
	purego.RegisterFunc(&setIOErrorHandler, sym)
	setIOErrorHandler(purego.NewCallback(func(display uintptr) uintptr {
		f()
		return 0
	}))
}
