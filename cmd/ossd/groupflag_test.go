package main

import (
	"io"
	"strings"
	"testing"
)

// TestHeapsGroupIsForDropAlone: --group is "heaps drop"'s alone, refused
// by every other form before it connects (no node is running here: an
// error of the connection would mean it went on). The list given
// --group used to index its missing form and panic.
func TestHeapsGroupIsForDropAlone(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--group", "7"}, "heaps (the list) does not take --group (it takes only --json)"},
		{[]string{"create", "x", "--group", "7"}, "heaps create does not take --group (it takes only --replicas)"},
		{[]string{"restore", "x", "--in", "f", "--group", "7"}, "heaps restore does not take --group (it takes only --in, --replicas)"},
		{[]string{"set-replicas", "x", "3", "--group", "7"}, "heaps set-replicas does not take --group (it takes only --json)"},
	}
	for _, c := range cases {
		args := append([]string{"--http", "127.0.0.1:1"}, c.args...)
		err := heapsOf(t, args)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was done") {
			t.Errorf("heaps %v: %v; want %q", c.args, err, c.want)
		}
	}
}

// heapsOf runs "ossd heaps" with args, a panic failing the test.
func heapsOf(t *testing.T, args []string) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("heaps %v panicked: %v", args, r)
		}
	}()
	return heapsIO(strings.NewReader(""), io.Discard, io.Discard, args)
}
