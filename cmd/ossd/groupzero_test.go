package main

import (
	"bytes"
	"strings"
	"testing"
)

// "heaps drop NAME --group 0" is refused before anything is sent, and
// the heap of that name is kept: a --group of 0 was taken for no --group
// at all, and dropped the heap by its name, whatever its group, the drop
// that --group is there to avoid.
func TestHeapsDropOfGroupZeroDropsNothing(t *testing.T) {
	n, flags := insecureAdmin(t)
	run := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := heapsTo(&out, append(args, flags...))
		return out.String(), err
	}
	if _, err := run("create", "z"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"drop", "z", "--group", "0"}, {"drop", "--group=0", "z"}, {"drop", "z", "--group", "00"}} {
		out, err := run(args...)
		if err == nil || !strings.Contains(err.Error(), "--group 0 is no heap's group") || !strings.Contains(err.Error(), "nothing was done") {
			t.Errorf("heaps %v: %q, %v; want a refusal", args, out, err)
		}
		if hs := n.Heaps(); len(hs) != 1 || hs[0].Name != "z" {
			t.Fatalf("heaps after %v: %+v; want z kept", args, hs)
		}
	}
}
