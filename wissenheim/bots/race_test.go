//go:build race

package bots_test

// raceOn is set when the race detector runs, which slows the nodes
// several times over: the tests then load them less.
const raceOn = true
