package main

import (
	"strings"
	"testing"
)

// "ossd put HEAP ROOT JSON" takes a negative number as its JSON value,
// before or after the flags, and a flag's negative value stays the
// flag's. "ossd put h r -5" failed with "flag provided but not defined:
// -5".
func TestPutTakesANegativeNumber(t *testing.T) {
	_, flags := insecureAdmin(t)
	for _, args := range [][]string{
		append([]string{"h", "r", "-5"}, flags...),
		append(append([]string{"h"}, flags...), "r", "-5"),
		append(flags, "h", "r", "-5"),
	} {
		var out strings.Builder
		if err := putFrom(strings.NewReader(""), &out, args); err != nil {
			t.Fatalf("ossd put %s: %v", strings.Join(args, " "), err)
		}
		out.Reset()
		if err := getTo(&out, append([]string{"h", "r"}, flags...)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"value": -5,`) {
			t.Errorf("ossd put %s, then get:\n%s\nwant the value -5", strings.Join(args, " "), out.String())
		}
	}
	err := dispatch(append([]string{"heaps", "create", "g", "--replicas", "-1"}, flags...))
	if err == nil || !strings.Contains(err.Error(), "Replicas -1") {
		t.Errorf("heaps create --replicas -1: %v; want the replicas refused", err)
	}
}
