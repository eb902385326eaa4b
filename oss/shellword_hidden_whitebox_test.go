package oss

import (
	"testing"
)

// oss's copy of shellWord keeps a byte that is not UTF-8 as \xHH (it
// became U+FFFD when the name also held an unprintable rune) and escapes
// zero-width runes ("prod\u200b" read as "prod"); a hot root's name
// (HotObject.Name) is printed as such a word when it needs escapes: a
// client could name a root with an OSC 52 sequence and reach the
// terminal of an operator running "ossd hot".
func TestShellWordKeepsBytesAndEscapesHiddenRunes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\xff\u202e", `$'a\xff\xe2\x80\xae'`},
		{"prod\u200b", `$'prod\xe2\x80\x8b'`},
		{"a\xffb", `$'a\xffb'`},
		{"café x", `'café x'`},
	} {
		if got := shellWord(c.in); got != c.want {
			t.Errorf("shellWord(%q) = %s; want %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		o    HotObject
		want string
	}{
		{HotObject{Root: "\x1b]52;c;ZXZpbA==\x07"}, `root $'\x1b]52;c;ZXZpbA==\x07'`},
		{HotObject{Root: "r\u202e"}, `root $'r\xe2\x80\xae'`},
		{HotObject{Root: "plain"}, "root plain"},
		{HotObject{Scan: true}, "scan"},
	} {
		if got := c.o.Name(); got != c.want {
			t.Errorf("the Name() of root %q = %q; want %q", c.o.Root, got, c.want)
		}
	}
}
