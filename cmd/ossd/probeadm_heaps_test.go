package main

import (
	"bytes"
	"strings"
	"testing"
)

// A heap keeps an odd number of voters, so "--replicas 2" is one voter
// for good and "--replicas 4" three; "heaps create" said "1 for now ...
// it gains voters as servers join", which an even count never does.
func TestHeapsCreateEvenReplicasSaysRoundedDown(t *testing.T) {
	_, flags := insecureAdmin(t)
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := heapsTo(&out, append(args, flags...)); err != nil {
			t.Fatalf("heaps %v: %v", args, err)
		}
		return out.String()
	}
	// One server: two voters wanted is one, and stays one.
	out := run("create", "two", "--replicas", "2")
	if !strings.Contains(out, "2 voters wanted, 1 kept") || !strings.Contains(out, "rounds down") || strings.Contains(out, "gains voters") {
		t.Errorf("create with 2 replicas on 1 server: %q", out)
	}
	// Four wanted: one for now, three at most.
	out = run("create", "four", "--replicas", "4")
	if !strings.Contains(out, "4 voters wanted, 1 for now") || !strings.Contains(out, "up to 3 (an even number rounds down)") {
		t.Errorf("create with 4 replicas on 1 server: %q", out)
	}
	// Odd counts read as before.
	out = run("create", "five", "--replicas", "5")
	if !strings.Contains(out, "5 voters wanted, 1 for now") || strings.Contains(out, "rounds down") {
		t.Errorf("create with 5 replicas on 1 server: %q", out)
	}
}
