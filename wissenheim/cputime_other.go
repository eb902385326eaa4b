//go:build !linux

package main

import "time"

// threadCPU is not measured on this system.
func threadCPU() (time.Duration, bool) { return 0, false }

// processCPU is not measured on this system.
func processCPU() (time.Duration, bool) { return 0, false }

// threadTimes is not measured on this system.
func threadTimes() (delay, draw, other time.Duration, ok bool) { return 0, 0, 0, false }

// niceOthers does nothing on this system.
func niceOthers(nice int) int { return 0 }
