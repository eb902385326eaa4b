package main

import (
	"bytes"
	"strings"
	"testing"
)

// A root name may be any UTF-8, control characters included, and a heap
// name may hold spaces: "ossd get" of a missing root printed both as they
// were inside the command it suggested ("ossd put HEAP ROOT JSON"), so a
// root holding an escape sequence reached the terminal raw (and changed
// its colours), and a heap with a space split the suggested command in
// two. The names are shell words now: quoted, control characters escaped.
func TestCLIRemediesQuoteNames(t *testing.T) {
	_, flags := insecureAdmin(t)
	var out bytes.Buffer
	if err := putTo(strings.NewReader(""), &out, &out, append([]string{"sp ace", "r", "1"}, flags...)); err != nil {
		t.Fatal(err)
	}

	root := "a\x1b[31m b\n\u202e'"
	err := getTo(&out, append([]string{"sp ace", root}, flags...))
	if err == nil {
		t.Fatal("get of a missing root succeeded")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\n\u202e") {
		t.Errorf("get of a missing root printed control characters: %q", msg)
	}
	if want := `"ossd put 'sp ace' $'a\x1b[31m b\x0a\xe2\x80\xae\'' JSON"`; !strings.Contains(msg, want) {
		t.Errorf("get of a missing root said %q, want the remedy %s", msg, want)
	}

	err = getTo(&out, append([]string{"no such", "r"}, flags...))
	if err == nil || !strings.Contains(err.Error(), `"ossd heaps create 'no such'"`) || !strings.Contains(err.Error(), `"ossd put 'no such' ROOT JSON"`) {
		t.Errorf("get of a missing heap said %v, want its name quoted in the remedies", err)
	}
}
