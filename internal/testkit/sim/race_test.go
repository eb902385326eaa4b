//go:build race

package sim

// raceDetector is true in a build with the race detector, which slows
// the simulation several times over and finds nothing in it: a run is one
// goroutine. The short run then takes fewer seeds; OSS_LONG runs all.
const raceDetector = true
