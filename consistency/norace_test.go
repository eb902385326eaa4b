//go:build !race

package consistency

// raceEnabled: see race_test.go.
const raceEnabled = false
