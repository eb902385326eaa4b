package main

import (
	"strings"
	"testing"
)

// "ossd get HEAP ARG" reads ARG as an object ID when it parses as one,
// but "ossd put" takes any root name, so a root named like an ID could be
// put and never read back: "ossd put settings 11111111-2222-3333-4444-
// 555555555555 '"x"'" succeeded, and "ossd get" of the same words said
// the heap "holds no object" of that ID. With no such object, get now
// reads the root of that name; an object of that ID still comes first,
// and with neither the answer names both.
func TestGetReadsARootNamedLikeAnID(t *testing.T) {
	_, flags := insecureAdmin(t)
	get := func(args ...string) (string, error) {
		var out strings.Builder
		err := getTo(&out, append(args, flags...))
		return out.String(), err
	}
	for _, name := range []string{"11111111-2222-3333-4444-555555555555", "deadbeefdeadbeefdeadbeefdeadbeef"} {
		var out strings.Builder
		if err := putFrom(strings.NewReader(""), &out, append([]string{"h", name, `"by root"`}, flags...)); err != nil {
			t.Fatal(err)
		}
		got, err := get("h", name)
		if err != nil || !strings.Contains(got, `"by root"`) {
			t.Errorf("get h %s after putting the root: %q, %v; want the root's value", name, got, err)
		}
	}
	// An object of the ID comes first: the root r names one.
	var out strings.Builder
	if err := putFrom(strings.NewReader(""), &out, append([]string{"h", "r", `"the object"`}, flags...)); err != nil {
		t.Fatal(err)
	}
	got, err := get("h", "r")
	if err != nil {
		t.Fatal(err)
	}
	id := got[strings.Index(got, `"id": "`)+7:][:36]
	if got, err := get("h", id); err != nil || !strings.Contains(got, `"the object"`) {
		t.Errorf("get h %s, r's object: %q, %v", id, got, err)
	}
	_, err = get("h", "22222222-2222-3333-4444-555555555555")
	if err == nil || !strings.Contains(err.Error(), "no object") || !strings.Contains(err.Error(), "no root") {
		t.Errorf("get of an ID that is neither an object nor a root: %v; want both named", err)
	}
}
