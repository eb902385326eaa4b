package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// JSON output ("ossd get", "heaps --json", "status --json", "hot
// --json") wrote C1 controls, bidirectional formatting characters and
// zero-width runes raw (encoding/json escapes only C0, U+2028, U+2029,
// <, > and &). They are written as \uXXXX escapes, which decode to the
// same runes; printable text, emoji included, is as it was.
func TestJSONOutputEscapesRunesThatDoNotShow(t *testing.T) {
	v := map[string]any{
		"heaps": []oss.HeapStatus{{Name: "old\u202eevil", Replicas: 1}},
		"value": "c1\u009b2J \u200b \ufeff \U000e0001 \x7f café 日本 \U0001F600",
	}
	var b strings.Builder
	if err := printJSONTo(&b, v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && hidden(r) }) {
		t.Errorf("the JSON holds a rune raw that does not show:\n%q", out)
	}
	for _, want := range []string{`old\u202eevil`, `c1\u009b2J`, `\u200b`, `\ufeff`, `\udb40\udc01`, `\u007f`, "café 日本 \U0001F600"} {
		if !strings.Contains(out, want) {
			t.Errorf("the JSON\n%s\nlacks %s", out, want)
		}
	}
	var back struct {
		Heaps []oss.HeapStatus
		Value string
	}
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatal(err)
	}
	if back.Value != v["value"] || len(back.Heaps) != 1 || back.Heaps[0].Name != "old\u202eevil" {
		t.Errorf("the JSON decodes to %q, %+v; want what was printed", back.Value, back.Heaps)
	}
}
