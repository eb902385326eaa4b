//go:build race

package oss

// raceEnabled: the race detector slows the tests' large fills several
// times over; they take fewer objects under it.
const raceEnabled = true
