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
