package main

import "testing"

// Tests that start nodes on fixed ports run in parallel: freePorts never
// hands two of them the same port, even a port free again because the
// test it went to has not bound it yet. It drew ranges at random and
// checked only that they were free then: of 500 draws of three ports,
// some overlapped.
func TestFreePortsNeverHandsOutAPortTwice(t *testing.T) {
	owner := map[int]int{}
	for draw := range 500 {
		base := freePorts(t, 3)
		for p := base; p < base+3; p++ {
			if prev, ok := owner[p]; ok {
				t.Fatalf("port %d handed out by draws %d and %d", p, prev, draw)
			}
			owner[p] = draw
		}
	}
}
