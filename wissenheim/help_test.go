package main

import (
	"os/exec"
	"strings"
	"testing"
)

// wissenheim -h lists the flags and exits 0, as go run ./demo -h and
// ossd do: it exited 1 and ended the list with "wissenheim: flag: help
// requested", as if asking were a mistake.
func TestHelpExitsZero(t *testing.T) {
	bin := buildClient(t)
	for _, arg := range []string{"-h", "--help"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "-headless") || strings.Contains(string(out), "help requested") {
			t.Errorf("wissenheim %s: %v, want the flags and status 0:\n%s", arg, err, out)
		}
	}
}
