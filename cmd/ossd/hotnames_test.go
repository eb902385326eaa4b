package main

import (
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// "ossd hot" printed a root's name, the last loser's node and its
// operation raw: a client could name a root with an OSC 52 sequence (a
// write to the operator's clipboard) or U+202E and reach the operator's
// terminal. They are printed as heap names are (nameSaid).
func TestHotPrintsNamesEscaped(t *testing.T) {
	now := time.Now()
	h := &admin.Hot{Heap: "h", HalfLifeSeconds: 60, Objects: []oss.HotObject{
		{Root: "\x1b]52;c;ZXZpbA==\x07", Lately: 2, Conflicts: 2, Last: now, LastNode: "n\u202e1", LastOp: "op\u009b2J"},
		{Root: "plain", Lately: 1, Conflicts: 1, Last: now, LastNode: "n2", LastOp: "transfer"},
	}}
	var b strings.Builder
	printHot(&b, h, now)
	out := b.String()
	if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && hidden(r) }) {
		t.Errorf("ossd hot printed a rune raw that does not show:\n%q", out)
	}
	for _, want := range []string{`root $'\x1b]52;c;ZXZpbA==\x07'`, `$'n\xe2\x80\xae1'`, `$'op\xc2\x9b2J'`, "root plain", "n2", "transfer"} {
		if !strings.Contains(out, want) {
			t.Errorf("ossd hot printed\n%s\nwant %s in it", out, want)
		}
	}
}
