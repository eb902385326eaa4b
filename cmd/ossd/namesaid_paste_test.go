package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A heap name that needs escapes is listed as shellWord's $'...' word,
// which pasted into bash names the heap exactly: strconv.Quote's
// "old\u202eevil" named the literal text, and the "no such heap" answer
// then suggested creating that. A printable name that starts with " or
// $' (or ') is listed quoted, so that the heap literally named
// "old\u202eevil", quotes and all, lists apart from the one holding
// U+202E. A name with a zero-width rune (U+200B, U+2060, U+FEFF), taken
// at creation, is listed escaped: "prod\u200b" listed as "prod". A
// name that is not UTF-8 and holds an unprintable rune keeps its bytes
// (\xHH), where they became U+FFFD.
func TestNameSaidPastesAsTheName(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	for _, c := range []struct{ name, want string }{
		{"old\u202eevil", `$'old\xe2\x80\xaeevil'`},
		{`"old\u202eevil"`, `'"old\u202eevil"'`},
		{`$'x'`, `'$'\''x'\'''`},
		{`'x'`, `''\''x'\'''`},
		{"prod\u200b", `$'prod\xe2\x80\x8b'`},
		{"\ufeffprod", `$'\xef\xbb\xbfprod'`},
		{"pr\u2060od", `$'pr\xe2\x81\xa0od'`},
		{"a\xff\u202e", `$'a\xff\xe2\x80\xae'`},
		{"a\xffb", `$'a\xffb'`},
		{"it's \u0085", `$'it\'s \xc2\x85'`},
		{"plain name", "plain name"},
		{"café", "café"},
		{"prod", "prod"},
	} {
		got := nameSaid(c.name)
		if got != c.want {
			t.Errorf("nameSaid(%q) = %s; want %s", c.name, got, c.want)
		}
		if got == c.name {
			continue
		}
		cmd := exec.Command(bash, "-c", "printf %s "+got)
		cmd.Env = []string{"LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, []byte(c.name)) {
			t.Errorf("name %q said %s: bash printed %q (%v)", c.name, got, out, err)
		}
	}

	var b strings.Builder
	hs := []oss.HeapStatus{{Name: "old\u202eevil", Replicas: 1}, {Name: `"old\u202eevil"`, Replicas: 1}, {Name: "prod\u200b", Replicas: 1}, {Name: "prod", Replicas: 1}}
	if err := printHeaps(&b, hs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		name, _, _ := strings.Cut(l, " ")
		if seen[name] {
			t.Errorf("two heaps list as %s:\n%s", name, b.String())
		}
		seen[name] = true
	}
	if strings.ContainsFunc(b.String(), func(r rune) bool { return r != '\n' && hidden(r) }) {
		t.Errorf("the heap list holds a rune raw that does not show:\n%q", b.String())
	}
}
