package main

import (
	"io"
	"strings"
	"testing"
)

// The CLI suggests "ossd heaps create -- -x" for a heap whose name starts
// with "-"; a flag added after it ("--http ADDR") is an argument, and the
// command said only that it wanted other arguments. It now says why.
func TestFlagAfterDashesIsSaid(t *testing.T) {
	_, flags := insecureAdmin(t)
	addr := flags[1]
	for name, run := range map[string]func() error{
		"heaps drop": func() error { return heapsTo(io.Discard, []string{"drop", "--", "-x", "--http", addr}) },
		"put": func() error {
			return putTo(strings.NewReader(""), io.Discard, io.Discard, []string{"--", "-x", "r", "1", "--http=" + addr})
		},
		"get": func() error { return getTo(io.Discard, []string{"--", "-x", "r", "-http", addr}) },
		"hot": func() error { return hot([]string{"--", "-x", "--http-insecure"}) },
	} {
		err := run()
		if err == nil || !strings.Contains(err.Error(), `came after "--"`) || !strings.Contains(err.Error(), `give the flags before "--"`) {
			t.Errorf("%s with a flag after --: %v; want it said", name, err)
		}
	}
	// Without such a flag, the error is as it was.
	if err := heapsTo(io.Discard, append([]string{"drop", "a", "b"}, flags...)); err == nil || strings.Contains(err.Error(), `"--"`) {
		t.Errorf("heaps drop a b: %v", err)
	}
}
