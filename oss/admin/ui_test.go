package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// TestUIPageAndAssets: /ui serves the embedded page and its assets with a
// strict Content-Security-Policy; /ui/ sends the browser to /ui (whose
// relative URLs the page's are); unknown and nested asset names are 404.
func TestUIPageAndAssets(t *testing.T) {
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		path, ctype, want string
	}{
		{"/ui", "text/html", `src="ui/assets/app.js"`},
		{"/ui/assets/app.js", "javascript", `new EventSource("ui/events")`},
		{"/ui/assets/style.css", "text/css", "--down"},
	} {
		req, _ := http.NewRequest("GET", srv.URL()+c.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&b)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(b.String(), c.want) {
			t.Errorf("GET %s: %d %q, want %q in\n%.200s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.want, b.String())
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
	}
	for path, want := range map[string]int{"/ui/": 302, "/ui/assets/nope.js": 404, "/ui/assets/..%2findex.html": 404, "/ui/assets/": 404} {
		req, _ := http.NewRequest("GET", srv.URL()+path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if want == 302 && resp.Header.Get("Location") != "/ui" {
			t.Errorf("GET %s: Location %q", path, resp.Header.Get("Location"))
		}
	}
}

// TestUIWorksOffline: the embedded page loads nothing from elsewhere: no
// absolute URL in any of its files but SVG's namespace.
func TestUIWorksOffline(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := filepath.WalkDir("ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" {
				t.Errorf("%s refers to %s: the dashboard must work offline", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUIBehindAuthentication: the page, its assets and its stream need a
// client certificate of the cluster's CA and read on every heap, and are
// refused to a foreign Origin and to cross-site fetches like every other
// endpoint.
func TestUIBehindAuthentication(t *testing.T) {
	n := startNode(t)
	p := newPKI(t)
	srv := serve(t, n, p.serverOptions(t))
	admin := tlsClient(t, p.tlsConfig(t, "admin"))
	alice := tlsClient(t, p.tlsConfig(t, "alice"))
	for _, path := range []string{"/ui", "/ui/assets/app.js", "/ui/events"} {
		if _, _, err := request(t, http.DefaultClient, "GET", srv.URL()+path, "", nil); err == nil {
			t.Errorf("%s answered without a client certificate", path)
		}
		if code, body, err := request(t, alice, "GET", srv.URL()+path, "", nil); err != nil || code != http.StatusForbidden {
			t.Errorf("%s as a client without grants: %d %v %.200s", path, code, err, body)
		}
		for _, hdr := range [][]string{{"Origin", "http://attacker.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Host", "attacker.example"}} {
			if code, _, err := request(t, admin, "GET", srv.URL()+path, "", nil, hdr...); err != nil || code != http.StatusForbidden {
				t.Errorf("%s with %v: %d %v, want 403", path, hdr, code, err)
			}
		}
	}
	if code, body, err := request(t, admin, "GET", srv.URL()+"/ui", "", nil, "Sec-Fetch-Site", "none"); err != nil || code != 200 || !strings.Contains(body, "<title>OSS dashboard</title>") {
		t.Fatalf("/ui as the admin: %d %v %.200s", code, err, body)
	}
	// The stream, with the same-origin Origin a browser may send.
	req, _ := http.NewRequest("GET", srv.URL()+"/ui/events", nil)
	req.Header.Set("Origin", srv.URL())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	snap := firstSnapshot(t, admin, req)
	if snap.Node != "node1" {
		t.Errorf("snapshot of node %q", snap.Node)
	}
}

// firstSnapshot reads the stream of req until its first snapshot.
func firstSnapshot(t *testing.T, hc *http.Client, req *http.Request) admin.UISnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("/ui/events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok && event == "snapshot" {
			var s admin.UISnapshot
			if err := json.Unmarshal([]byte(v), &s); err != nil {
				t.Fatalf("snapshot %q: %v", v, err)
			}
			return s
		}
	}
	t.Fatalf("the stream ended without a snapshot: %v", sc.Err())
	return admin.UISnapshot{}
}

// TestUIEventsStream: the stream pushes a snapshot every second with the
// heaps, their commit rate and this node's hot objects, and the server's
// Close does not wait for the streams still open.
func TestUIEventsStream(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	h, err := n.CreateHeap(ctx, "dash", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{}
	req, _ := http.NewRequest("GET", srv.URL()+"/ui/events", nil)
	first := firstSnapshot(t, hc, req)
	var dash *admin.UIHeap
	for i := range first.Heaps {
		if first.Heaps[i].Name == "dash" {
			dash = &first.Heaps[i]
		}
	}
	if dash == nil || dash.Leader != "node1" || len(first.Members) != 1 || first.Members[0].State != "up" || first.Version == "" {
		t.Fatalf("first snapshot: %+v", first)
	}
	for i := range 20 {
		if err := h.Update(ctx, func(tx *oss.Tx) error {
			r, err := oss.New(tx, i)
			if err != nil {
				return err
			}
			return tx.SetRoot("r", r.ID)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A later snapshot counts the commits, and has their latency: mean
	// and p99 (a bucket's upper bound, so not below the mean) per sample.
	deadline := time.Now().Add(5 * time.Minute) // a bound against a hang
	for {
		s := firstSnapshot(t, hc, req)
		var lat [][3]int64
		for _, h := range s.Heaps {
			if h.Name == "dash" {
				lat = h.Latency
			}
		}
		if s.Totals.Commits >= first.Totals.Commits+20 && len(lat) > 0 {
			for _, p := range lat {
				if p[1] <= 0 || p[2] < p[1] {
					t.Errorf("latency sample [ms, mean µs, p99 µs] %v", p)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commits %d, were %d before 20 more; latency %v", s.Totals.Commits, first.Totals.Commits, lat)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// An open stream does not hold up the server's shutdown.
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A stream that held the shutdown up would hold it until sctx ends,
	// and Close would return sctx's error: the bound is against that hang,
	// not a measure of speed.
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := srv.Close(sctx); err != nil {
		t.Fatalf("Close with a stream open: %v after %v", err, time.Since(start))
	}
}

// TestUISamplerStopsWithTheServer: the dashboard samples the node while a
// stream is open; the server's Close, which ends the streams, returns only
// once that sampler has stopped (it used to run on for up to a tick and a
// sample, about 2 s, after Close).
func TestUISamplerStopsWithTheServer(t *testing.T) {
	n := startNode(t)
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "data:") {
	}
	if !sampling() {
		t.Fatal("no sampler runs while a stream is open")
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sampling() {
		t.Fatal("the dashboard's sampler still runs after the server's Close returned")
	}
}

// sampling reports whether a dashboard sampler goroutine exists, looked at
// once (no retry: the question is whether it is gone already).
func sampling() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "(*dashboard).run")
}
