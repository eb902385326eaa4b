package main

import (
	"strings"
	"testing"
)

// A zero or negative count or duration given to "ossd run" is refused
// with the flag's name, before anything starts, rather than taken for the
// default.
func TestRunRefusesZeroCounts(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"--replicas 0", "--replicas 0"},
		{"--replicas -2", "--replicas -2"},
		{"--replace-after 0s", "--replace-after 0s"},
		{"--batch-interval 0s", "--batch-interval 0s"},
	} {
		var f runFlags
		err := f.parse(strings.Fields(tc.args))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %s: %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
	var f runFlags
	if err := f.parse([]string{"--replicas", "1", "--replace-after", "5s", "--batch-interval", "1ms"}); err != nil {
		t.Fatalf("run with positive counts: %v", err)
	}
}

// A command that takes flags only refuses a word left over, naming it:
// "--join a b" (a space for a comma) must not drop b without a word.
func TestFlagsOnlyCommandsRefuseArguments(t *testing.T) {
	var f runFlags
	err := f.parse([]string{"--join", "127.0.0.1:7401", "127.0.0.1:7402"})
	if err == nil || !strings.Contains(err.Error(), `unexpected argument "127.0.0.1:7402"`) {
		t.Fatalf("run --join a b: %v, want the second address refused", err)
	}
	for _, args := range [][]string{{"status", "extra"}, {"ca", "init", "--dir", t.TempDir(), "extra"}, {"cert", "issue", "--dir", t.TempDir(), "--name", "n1", "extra"}} {
		err := dispatch(args)
		if err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
			t.Errorf("%q: %v, want the extra argument refused", args, err)
		}
	}
}
