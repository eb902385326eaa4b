package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// A window test's client and its xvfb-run keep their temporary files
// (xvfb-run's X authority, the local cluster's certificates) in a
// directory of the test's, not in the TMPDIR of the test's process,
// where a window killed at the end of a test left them.
func TestWindowKeepsItsTemporaryFilesInTheTest(t *testing.T) {
	bin := buildClient(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	win := startWindow(t, bin, nil, "--nodes", "1", "--bots", "0", "--size", "320x200", "--probe")
	timer := time.NewTimer(5 * time.Minute)
	defer timer.Stop()
	for drawn := false; !drawn; {
		select {
		case line, ok := <-win.lines:
			if !ok {
				t.Fatalf("window ended; stderr:\n%s", win.stderr)
			}
			var p probe
			drawn = json.Unmarshal([]byte(line), &p) == nil && len(p.Avatars) > 0
		case <-timer.C:
			t.Fatalf("no frame drew the player within 5 minutes; stderr:\n%s", win.stderr)
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Fatalf("the window's processes keep %s in the TMPDIR of the test's process", strings.Join(names, ", "))
	}
}
