package admin_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// dashboardShot, if set, is where TestDashboardBrowser also writes its
// screenshot of the dashboard, after the load has run long enough to fill
// the charts: make dashboard-screenshot writes docs/dashboard.png so.
var dashboardShot = flag.String("dashboard.screenshot", "", "also write the dashboard's screenshot to this PNG file (make dashboard-screenshot)")

// startCluster starts n nodes on loopback QUIC with certificates of one CA,
// each joining the first, and waits until every node sees them all.
func startCluster(t *testing.T, names ...string) []*oss.Node {
	t.Helper()
	return startClusterWith(t, nil, names...)
}

// startClusterWith is startCluster with each node's Config passed to
// configure, if not nil, before the node starts.
func startClusterWith(t *testing.T, configure func(*oss.Config), names ...string) []*oss.Node {
	t.Helper()
	caCert, caKey, err := pki.NewCA("dashboard test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []*oss.Node
	for _, name := range names {
		cert, key, err := pki.IssueCert(caCert, caKey, name, pki.RoleServer, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &oss.Config{Name: name, Listen: "127.0.0.1:0", TLS: &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert},
			Gossip: oss.GossipLoopback, Logger: quiet}
		if len(nodes) > 0 {
			// A join tried once failed at load 80: the first node
			// answered the dial, and membership's exchange with it
			// ran out of time. ossd tries again, and so do these.
			cfg.Join, cfg.JoinRetry = []string{nodes[0].Addr()}, true
		}
		if configure != nil {
			configure(cfg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		n, err := oss.Start(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, n := range nodes {
		for len(n.Members()) != len(names) {
			if time.Now().After(deadline) {
				t.Fatalf("%v sees members %v", n.Addr(), n.Members())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nodes
}

// seen records the headers the browser sent to the admin interface, and
// what it answered.
type seen struct {
	mu   sync.Mutex
	reqs []string
}

func (s *seen) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		s.mu.Lock()
		i := len(s.reqs)
		s.reqs = append(s.reqs, "")
		s.mu.Unlock()
		line := func() string {
			return fmt.Sprintf("%s %s Origin=%q Sec-Fetch-Site=%q → %d", r.Method, r.URL.Path, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"), rec.code)
		}
		// A stream answers before it ends: record it at its first write.
		rec.onWrite = func() {
			s.mu.Lock()
			s.reqs[i] = line()
			s.mu.Unlock()
		}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		s.reqs[i] = line()
		s.mu.Unlock()
	})
}

func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

type statusRecorder struct {
	http.ResponseWriter
	code    int
	wrote   bool
	onWrite func()
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	if r.onWrite != nil {
		r.onWrite()
		r.onWrite = nil
	}
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// TestDashboardBrowser loads the dashboard of a 4-node cluster under load,
// with a heap of three replicas, in headless Chromium and finds there the
// nodes, the heap's leader, a commit counter that moves, n1's commit
// latency, a killed voter shown down, and its replacement (the fourth node, after ReplaceAfter)
// among the heap's voters.
//
// The admin interface is served insecure (plain HTTP, no client
// certificates) on loopback, which it allows there, so that Chromium needs
// no client certificate installed: the page is the same page, and every
// request it makes still passes the interface's checks of Host, Origin and
// Sec-Fetch-Site (checkRequest), which the test verifies from what the
// server saw: the page and its stream are same-origin.
func TestDashboardBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	// A short ReplaceAfter, so the closed voter's replacement comes soon.
	nodes := startClusterWith(t, func(c *oss.Config) { c.ReplaceAfter = time.Second }, "n1", "n2", "n3", "n4")
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopLoad()
	h, err := nodes[0].CreateHeap(ctx, "orders", &oss.HeapOptions{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}

	// The load: workers on n1 and n2 add to a shared counter (a hot root,
	// so transactions conflict) and write objects of their own.
	for i := range 4 {
		n := nodes[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			hh, err := n.Heap(ctx, "orders")
			if err != nil {
				if ctx.Err() == nil {
					t.Error(err)
				}
				return
			}
			tick := time.NewTicker(15 * time.Millisecond)
			defer tick.Stop()
			for k := 0; ctx.Err() == nil; k++ {
				hh.Update(oss.WithOperation(ctx, fmt.Sprintf("worker%d", i)), func(tx *oss.Tx) error {
					if k%3 == 0 {
						var c int
						id, err := tx.Root("counter")
						if err == nil {
							c, err = oss.Get[int](tx, id)
						}
						if err != nil && !errors.Is(err, oss.ErrNotFound) {
							return err
						}
						r, err := oss.New(tx, c+1)
						if err != nil {
							return err
						}
						return tx.SetRoot("counter", r.ID)
					}
					_, err := oss.New(tx, fmt.Sprintf("order %d of worker %d", k, i))
					return err
				})
				select {
				case <-tick.C:
				case <-ctx.Done():
				}
			}
		}()
	}

	// The admin interface of n1, served through a recorder of what the
	// browser sends.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler, err := admin.NewHandler(nodes[0], &admin.Options{Addr: ln.Addr().String(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	var rec seen
	srv := &http.Server{Handler: rec.wrap(handler)}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	opts := browserOptions(t, exe, chromedp.WindowSize(1440, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancelTime := context.WithTimeout(bctx, 4*time.Minute)
	defer cancelTime()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/ui")); err != nil {
		t.Fatalf("loading %s/ui in %s: %v", base, exe, err)
	}
	wait := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if err := pollPage(bctx, expr, timeout); err != nil {
			page, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("waiting for %s (%s): %v\nthe page:\n%s\nrequests: %q", what, expr, err, page, rec.all())
		}
	}
	eval := func(expr string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s
	}

	// The four nodes, up; the stream live.
	wait("the stream", `document.getElementById("conn").dataset.state === "live"`, time.Minute)
	wait("this node's version", `/^\S+$/.test(document.getElementById("version").textContent) && document.getElementById("version").textContent !== "–"`, time.Minute)
	wait("four nodes up", `["n1","n2","n3","n4"].every(n => document.querySelector('#members tr[data-node="'+n+'"][data-state="up"]'))`, time.Minute)
	// Each member's version, as it announces it in membership.
	wait("every member's version", `["n1","n2","n3","n4"].every(n => { const c = document.querySelector('#members tr[data-node="'+n+'"] td.version'); return c && c.textContent === document.getElementById("version").textContent })`, time.Minute)

	// The heap's leader is marked, and is the leader the nodes know.
	wait("the heap on the map with a leader and its three voters", `(() => {
		const row = document.querySelector('#map tr[data-heap="orders"]');
		return row && row.querySelector("td[data-leader]") && [...row.querySelectorAll("td.cell")].filter(td => /[★V]/.test(td.textContent)).length === 3;
	})()`, time.Minute)
	deadline := time.Now().Add(time.Minute)
	for {
		page := eval(`document.querySelector('#map tr[data-heap="orders"] td[data-leader]').dataset.node`)
		leader := h.Stats().Leader
		if page == leader && leader != "" {
			t.Logf("the page marks %s as the leader of orders", page)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page marks %q as the leader; the nodes know %q", page, leader)
		}
		wait("the next snapshot", fmt.Sprintf(`document.getElementById("commits-total").textContent !== %q`, eval(`document.getElementById("commits-total").textContent`)), 30*time.Second)
	}

	// The commit counter moves.
	first := eval(`document.getElementById("commits-total").textContent`)
	wait("the commit counter to move", fmt.Sprintf(`(() => { const v = Number(document.getElementById("commits-total").textContent); return v > Number(%q) + 10; })()`, first), time.Minute)
	second := eval(`document.getElementById("commits-total").textContent`)
	t.Logf("commits on the page: %s, then %s", first, second)
	wait("a chart of orders", `document.querySelector('.chart[data-heap="orders"] polyline')`, time.Minute)
	// n1 commits too: its commit latency, mean and p99, is drawn.
	wait("a latency chart of orders", `(() => { const c = document.querySelector('#latency .chart.latency[data-heap="orders"]');
		return c && c.querySelector("polyline.mean") && c.querySelector("polyline.p99") && /mean [0-9.]+ m?s · p99 ≤ [0-9.]+ m?s/.test(c.querySelector(".rate").textContent); })()`, time.Minute)
	t.Logf("latency on the page: %s", eval(`document.querySelector('#latency .chart.latency[data-heap="orders"] .rate').textContent`))

	// The page and its stream were same-origin requests the interface
	// accepted: no foreign Origin, Sec-Fetch-Site none (typed in) or
	// same-origin.
	var stream bool
	for _, r := range rec.all() {
		t.Logf("the browser sent: %s", r)
		var method, path, origin, site string
		var code int
		if _, err := fmt.Sscanf(r, "%s %s Origin=%q Sec-Fetch-Site=%q → %d", &method, &path, &origin, &site, &code); err != nil {
			continue // recorded before its first write
		}
		if path == "/favicon.ico" {
			continue
		}
		if code != 200 || (origin != "" && origin != base) || (site != "none" && site != "same-origin") {
			t.Errorf("the browser's request %s", r)
		}
		stream = stream || path == "/ui/events" && code == 200
	}
	if !stream {
		t.Errorf("no stream among the browser's requests %q", rec.all())
	}

	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	shoot("dashboard.png")

	// A voter of orders killed: the page shows it down, in red, and its
	// replacement.
	if *dashboardShot != "" {
		// For the README: charts with a minute of history, and hot objects.
		wait("a minute of history", `document.querySelector('.chart[data-heap="orders"] polyline').points.length >= 60 && document.querySelector('#hot .hotheap')`, 3*time.Minute)
	}
	// Placement put the heap's three voters on three of the four nodes
	// (rendezvous hashing of the node names): the one left is the spare
	// that replaces the voter killed. The voter killed is one the load
	// does not run on (n1, whose page this is, or n2), so n3 if placement
	// chose it.
	voters := h.Stats().Voters
	deadline = time.Now().Add(time.Minute)
	for len(voters) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("orders has voters %v", voters)
		}
		time.Sleep(50 * time.Millisecond)
		voters = h.Stats().Voters
	}
	victim, spare := -1, -1
	for i := range nodes {
		name := fmt.Sprintf("n%d", i+1)
		switch {
		case !slices.Contains(voters, name):
			spare = i
		case i >= 2 && victim < 0:
			victim = i
		}
	}
	if victim < 0 || spare < 0 {
		t.Fatalf("orders has voters %v: no voter to close among n3, n4, or no spare", voters)
	}
	vn, sn := fmt.Sprintf("n%d", victim+1), fmt.Sprintf("n%d", spare+1)
	t.Logf("orders has voters %v: killing %s, %s replaces it", voters, vn, sn)
	// Killed: closed without its graceful hand-over and leave (a context
	// already ended), as a crash is for its peers, so that its voter is
	// replaced after ReplaceAfter.
	killed, kill := context.WithCancel(context.Background())
	kill()
	if err := nodes[victim].Close(killed); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	closed := time.Now()
	wait(vn+" down", fmt.Sprintf(`(() => { const tr = document.querySelector('#members tr[data-node=%q][data-state="down"]');
		return tr && getComputedStyle(tr.querySelector(".dot")).backgroundColor === "rgb(231, 76, 60)" && /down/.test(tr.textContent); })()`, vn), time.Minute)
	t.Logf("%s shown down %v after it was killed", vn, time.Since(closed).Round(time.Millisecond))
	wait("the event of "+vn+"'s leaving", fmt.Sprintf(`[...document.querySelectorAll("#events li.leave")].some(li => li.textContent.includes(%q))`, vn), 30*time.Second)

	// Its replacement: after ReplaceAfter, the leader adds the spare as a
	// learner and makes it a voter in place of the killed node.
	wait(sn+" a voter of orders in place of "+vn, fmt.Sprintf(`(() => {
		const row = document.querySelector('#map tr[data-heap="orders"]');
		const mark = (n) => row && row.querySelector('td.cell[data-node="' + n + '"]');
		return mark(%q) && /[★V]/.test(mark(%q).textContent) && !/[★V]/.test(mark(%q).textContent);
	})()`, sn, sn, vn), 2*time.Minute)
	t.Logf("%s shown a voter of orders %v after %s was killed", sn, time.Since(closed).Round(time.Millisecond), vn)
	wait("the event of the voters' change", fmt.Sprintf(`[...document.querySelectorAll("#events li.voters")].some(li => /orders/.test(li.textContent) && li.textContent.includes("+" + %q))`, sn), 30*time.Second)
	shoot("dashboard-node-down.png")
	if *dashboardShot != "" {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*dashboardShot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", *dashboardShot)
	}
}
