package main

import (
	"bytes"
	"strings"
	"testing"
)

// "heaps create" says how many voters the heap has, and, when it asked
// for more than the cluster's servers can hold, that it has fewer for
// now; "heaps drop" says what it dropped. Both used to print nothing.
func TestHeapsCreateSaysItsVoters(t *testing.T) {
	_, flags := insecureAdmin(t)
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := heapsTo(&out, append(args, flags...)); err != nil {
			t.Fatalf("heaps %v: %v", args, err)
		}
		return out.String()
	}
	if out := run("create", "one", "--replicas", "1"); out != "created heap \"one\": 1 voter\n" {
		t.Errorf("create with as many voters as servers: %q", out)
	}
	out := run("create", "wide", "--replicas", "5")
	if !strings.Contains(out, "5 voters wanted, 1 for now") || !strings.Contains(out, "has 1 server;") {
		t.Errorf("create with more voters than servers: %q", out)
	}
	if out := run("drop", "wide"); out != "dropped heap \"wide\"\n" {
		t.Errorf("drop: %q", out)
	}
}

func TestPlacedVoters(t *testing.T) {
	for _, tc := range []struct{ replicas, servers, want int }{
		{3, 3, 3}, {5, 3, 3}, {5, 4, 3}, {3, 2, 1}, {4, 5, 3}, {1, 0, 0}, {5, 5, 5},
	} {
		if got := placedVoters(tc.replicas, tc.servers); got != tc.want {
			t.Errorf("placedVoters(%d, %d) = %d, want %d", tc.replicas, tc.servers, got, tc.want)
		}
	}
}
