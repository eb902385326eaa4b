package admin

import (
	"strconv"
	"strings"
	"testing"
)

// An event's line names heaps and nodes as they are: a heap made before
// bidirectional formatting characters were refused, with U+202E in its
// name, showed the rest of the line reversed in the page (textContent
// keeps markup out, not that). The text is written with each rune that
// does not show as itself escaped (uiShown), as the page's own names are
// (app.js's shown).
func TestUIEventsEscapeNames(t *testing.T) {
	d := &dashboard{}
	r := &sampling{d: d, ms: 1}
	r.event("heap", "heap %s created (%d replicas)", "old\u202eevil", 3)
	r.event("leader", "%s elected %s", "c1\u0085", "n\u200b2")
	for _, text := range snapshotEvents("\u2066iso", "n1", heapMetrics{}, heapMetrics{snapReceived: 1, snapReceivedBytes: 10}) {
		r.event("snapshot", "%s", text)
	}
	r.event("heap", "heap %s created (%d replicas)", "café \U0001F600", 1)
	var texts []string
	for _, e := range d.events {
		texts = append(texts, e.Text)
		if strings.ContainsFunc(e.Text, func(r rune) bool { return !strconv.IsPrint(r) }) {
			t.Errorf("the event's text holds a rune raw that does not show: %q", e.Text)
		}
	}
	want := []string{`heap old\u202eevil created (3 replicas)`, `c1\u0085 elected n\u200b2`,
		`\u2066iso: n1 received a snapshot from the leader (10 B)`, "heap café \U0001F600 created (1 replicas)"}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("the events say\n%s\nwant\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	if got := uiShown("a\xffb\U000e0001"); got != `a\xffb\U000e0001` {
		t.Errorf(`uiShown("a\xffb\U000e0001") = %s`, got)
	}
}
