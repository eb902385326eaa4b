package admin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/persist"
)

// TestDashboardBrowserLogFailed loads, in headless Chromium, the
// dashboards of two single nodes on in-memory disks. The one whose wal/
// is removed while the page is open, and a commit then fails, shows the
// banner that its write-ahead log has stopped, with the log's error, on
// screen (displayed, with a size), where before it showed none; the other
// node's page, well, shows no banner: the element is there, hidden, and
// takes no room. TestUISnapshotSaysTheLogFailed checks the snapshot and
// the markup as text; this checks what the user sees, the script's
// rendering and the style sheet's hiding together.
func TestDashboardBrowserLogFailed(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	exe := chromium(t)
	sick, sickMem, sickURL := startLogNode(t, "sick")
	_, _, wellURL := startLogNode(t, "well")
	h, err := sick.CreateHeap(context.Background(), "h", nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func() error {
		return h.Update(context.Background(), func(tx *oss.Tx) error { return oss.Put(tx, uuid.New(), 1) })
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserOptions(t, exe)...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancelTime := context.WithTimeout(bctx, 5*time.Minute)
	defer cancelTime()
	p := &dashPage{t: t, ctx: bctx}

	// The sick node's page while its log is well: no banner.
	p.open(sickURL, "sick")
	p.bannerHidden("sick, before its log stopped")

	// Its wal/ removed: the next commit fails, the log stops, and the
	// open page shows it with the next snapshot.
	files, err := sickMem.ReadDir("/data/wal")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := sickMem.Remove("/data/wal/" + f); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(); err == nil {
		t.Fatal("a commit once wal/ is gone succeeded")
	}
	p.wait("the banner of the stopped log, on screen", `(() => {
		const b = document.getElementById("logfailed");
		return !b.hidden && getComputedStyle(b).display !== "none" && b.offsetHeight > 0 && b.getClientRects().length > 0 &&
			b.innerText.includes("write-ahead log has stopped") && b.innerText.includes("/data/wal") && b.innerText.includes("gone");
	})()`)
	t.Logf("the banner: %s", p.eval(`document.getElementById("logfailed").innerText`))
	if dmg := p.eval(`String(document.getElementById("damage").hidden)`); dmg != "true" {
		t.Errorf("the page of a node whose log stopped shows the damage banner too: %q", p.eval(`document.getElementById("damage").innerText`))
	}

	// The well node's page: no banner.
	p.open(wellURL, "well")
	p.bannerHidden("well")
}

// startLogNode starts a single node named name on an in-memory disk, with
// its admin interface served insecure on loopback, and returns the node,
// its disk and the interface's URL. Both end with the test.
func startLogNode(t *testing.T, name string) (*oss.Node, *persist.MemFS, string) {
	t.Helper()
	ctx := context.Background()
	mem := persist.NewMemFS()
	n, err := oss.Start(ctx, &oss.Config{Name: name, DataDir: "/data", FS: mem, TickInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler, err := admin.NewHandler(n, &admin.Options{Addr: ln.Addr().String(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return n, mem, "http://" + ln.Addr().String()
}

// dashPage is a dashboard open in Chromium.
type dashPage struct {
	t   *testing.T
	ctx context.Context
}

// open loads the dashboard at base and waits for its stream to be live
// and a snapshot of node to be drawn.
func (p *dashPage) open(base, node string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(base+"/ui")); err != nil {
		p.t.Fatalf("loading %s/ui: %v", base, err)
	}
	p.wait("the stream", `document.getElementById("conn").dataset.state === "live"`)
	p.wait("a snapshot of "+node, fmt.Sprintf(`document.getElementById("node").textContent === "· " + %q && document.getElementById("version").textContent !== "–"`, node))
}

// bannerHidden checks that the page shows no banner of a stopped log:
// hidden, not displayed, empty.
func (p *dashPage) bannerHidden(what string) {
	p.t.Helper()
	got := p.eval(`(() => { const b = document.getElementById("logfailed");
		return JSON.stringify({hidden: b.hidden, display: getComputedStyle(b).display, height: b.offsetHeight, text: b.innerText}); })()`)
	if want := `{"hidden":true,"display":"none","height":0,"text":""}`; got != want {
		p.t.Errorf("the page of %s shows a banner of a stopped log: %s; want %s", what, got, want)
	}
}

func (p *dashPage) wait(what, expr string) {
	p.t.Helper()
	if err := pollPage(p.ctx, expr, 2*time.Minute); err != nil {
		page, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		p.t.Fatalf("waiting for %s (%s): %v\nthe page:\n%s", what, expr, err, page)
	}
}

func (p *dashPage) eval(expr string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("%s: %v", expr, err)
	}
	return s
}
