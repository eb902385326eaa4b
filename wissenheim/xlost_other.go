//go:build !linux

package main

// onDisplayLost does nothing where the window is not an Xlib one.
func onDisplayLost(func(why string)) {}
