//go:build race

package consistency

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, at random, so a function that takes its scratch from a
// pool allocates a new one now and then.
const raceEnabled = true
