package admin_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// The page showed heap, root and node names as they were: textContent
// keeps markup out but not a control or bidirectional formatting
// character, so a heap made before U+202E was refused in new names
// showed the rest of its line reversed, a root named with an escape
// sequence put it in the page, and "n\u200b2" looked like "n2". Drawn
// in headless Chromium from a snapshot holding such names, every table,
// chart title, hot list and event shows them escaped (\uXXXX), and
// plain names as they are.
func TestDashboardBrowserEscapesNames(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	exe := chromium(t)
	_, _, base := startLogNode(t, "n1")
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserOptions(t, exe)...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancelTime := context.WithTimeout(bctx, 5*time.Minute)
	defer cancelTime()
	p := &dashPage{t: t, ctx: bctx}
	p.open(base, "n1")

	// One synchronous evaluation: the next snapshot from the stream
	// draws over it only afterwards.
	got := p.eval(`(() => {
		const now = Date.now();
		const snap = {node: "n1", time: now, windowSeconds: 600, totals: {commits: 0, rate: 0},
			members: [{name: "n1", state: "up", role: "server", addr: "a", version: "v", leads: ["old\u202eevil"]},
				{name: "n\u200b2", state: "up", role: "client", addr: "b", version: "v", leads: []}],
			heaps: [{name: "old\u202eevil", leader: "n1", voters: ["n1"], learners: ["n\u200b2"], lag: [], applied: 1, joint: false,
				rate: 0, series: [], latency: [[now, 1000, 2000]], localConflicts: 1, localCommits: 1,
				hot: [{Root: "r\u001b]52;c;eA==\u0007", Lately: 1, Conflicts: 1, LastNode: "n\u200b2", LastOp: "op\u0085"},
					{Root: "plain root", Lately: 1, Conflicts: 1, LastNode: "n1", LastOp: "transfer"}]}],
			events: [{time: now, kind: "heap", text: "heap x\u2066y created"}]};
		renderMembers(snap); renderMap(snap); renderCharts(snap); renderHot(snap); renderEvents(snap);
		return ["members", "map", "charts", "latency", "hot", "events"].map((id) => document.getElementById(id).innerText).join("\n");
	})()`)
	// A name with a hidden rune and one whose plain text reads like its
	// escape are told apart: the escaped one is shown as a shell word.
	if got, want := p.eval(`[shown("prod\u200b"), shown("prod\\u200b"), shown("$'x"), shown("it's\u202e")].join(" | ")`), `$'prod\u200b' | prod\u200b | $'$\'x' | $'it\'s\u202e'`; got != want {
		t.Errorf("shown: got %s, want %s", got, want)
	}
	if strings.ContainsFunc(got, func(r rune) bool { return r != '\n' && r != '\t' && !strconv.IsPrint(r) }) {
		t.Errorf("the page shows a rune raw that does not show as itself:\n%q", got)
	}
	for _, want := range []string{`old\u202eevil`, `root $'r\u001b]52;c;eA==\u0007'`, `$'n\u200b2' $'op\u0085'`, `n\u200b2`, `heap x\u2066y created`, "root plain root", "n1 transfer"} {
		if !strings.Contains(got, want) {
			t.Errorf("the page lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, `old\u202eevil`); n != 5 {
		t.Errorf("the page shows old\\u202eevil %d times; want it in the members' leads, the map, both charts and the hot list:\n%s", n, got)
	}
}
