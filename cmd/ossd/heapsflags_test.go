package main

import (
	"io"
	"strings"
	"testing"
)

// TestHeapsRefusesAFlagItsFormDoesNotTake: "heaps drop X --out F" dropped
// X, and "heaps create X --in F" created X empty, the flag ignored. Each
// form now refuses the others' flags before it connects (no node is
// running here: an error of the connection would mean it went on).
func TestHeapsRefusesAFlagItsFormDoesNotTake(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"drop", "x", "--out", "f"}, "heaps drop does not take --out (it takes only --group)"},
		{[]string{"create", "x", "--in", "f", "--fresh"}, "heaps create does not take --fresh, --in (it takes only --replicas)"},
		{[]string{"--replicas", "3"}, "heaps (the list) does not take --replicas (it takes only --json)"},
		{[]string{"backup", "x", "--out", "f", "--replicas", "2"}, "heaps backup does not take --replicas (it takes only --out, --fresh)"},
		{[]string{"restore", "x", "--in", "f", "--json"}, "heaps restore does not take --json (it takes only --in, --replicas)"},
		{[]string{"set-replicas", "x", "3", "--fresh"}, "heaps set-replicas does not take --fresh (it takes only --json)"},
	}
	for _, c := range cases {
		args := append([]string{"--http", "127.0.0.1:1"}, c.args...)
		err := heapsIO(strings.NewReader(""), io.Discard, io.Discard, args)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was done") {
			t.Errorf("heaps %v: %v; want %q", c.args, err, c.want)
		}
	}
}
