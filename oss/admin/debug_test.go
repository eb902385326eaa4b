package admin_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
)

// gzipped reports whether b is a gzip stream, as pprof's protobuf
// profiles are.
func gzipped(b string) bool { return strings.HasPrefix(b, "\x1f\x8b") }

// Issue 17, item 4: the runtime's profiles and the recent logs are for
// operators only. A client certificate without grants gets 403 from every
// one of them, an admin certificate gets them.
func TestPprofNeedsAdmin(t *testing.T) {
	p := newPKI(t)
	n := startNode(t)
	logs := admin.NewLogRing(0, 0)
	slog.New(slog.NewTextHandler(logs, nil)).Info("hello from the ring", "k", 1)
	opts := p.serverOptions(t)
	opts.Logs = logs
	srv := serve(t, n, opts)
	alice, op := tlsClient(t, p.tlsConfig(t, "alice")), tlsClient(t, p.tlsConfig(t, "admin"))
	paths := []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2", "/debug/pprof/cmdline",
		"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=0.1", "/debug/pprof/allocs", "/debug/pprof/symbol", "/debug/logs"}
	for _, path := range paths {
		code, body, err := request(t, alice, "GET", srv.URL()+path, "", nil)
		if err != nil || code != http.StatusForbidden {
			t.Errorf("alice GET %s: %d %q %v, want 403", path, code, body, err)
		}
	}
	for _, path := range paths {
		code, body, err := request(t, op, "GET", srv.URL()+path, "", nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("admin GET %s: %d %q %v, want 200", path, code, body, err)
		}
		switch path {
		case "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/allocs":
			if !gzipped(body) {
				t.Errorf("GET %s: not a profile: %.40q", path, body)
			}
		case "/debug/pprof/":
			if !strings.Contains(body, "goroutine") {
				t.Errorf("index: %.200q", body)
			}
		case "/debug/pprof/goroutine?debug=2":
			if !strings.Contains(body, "goroutine ") || !strings.Contains(body, "oss/admin") {
				t.Errorf("goroutine dump: %.200q", body)
			}
		case "/debug/logs":
			if !strings.Contains(body, "hello from the ring") {
				t.Errorf("logs: %q", body)
			}
		}
	}
}

// A CPU profile outlasts the server's write and read timeouts (30 s by
// default, as long as the profile "go tool pprof" asks for): its
// request's deadlines are its own. Too long a profile is refused.
func TestProfileOutlastsTimeouts(t *testing.T) {
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true, WriteTimeout: time.Second, ReadTimeout: time.Second})
	hc := &http.Client{Timeout: 20 * time.Second}
	start := time.Now()
	code, body, err := request(t, hc, "GET", srv.URL()+"/debug/pprof/profile?seconds=2", "", nil)
	if err != nil || code != http.StatusOK || !gzipped(body) {
		t.Fatalf("a 2 s profile on a server of 1 s timeouts: %d %.100q %v", code, body, err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("the profile ended after %v, before its 2 s", d)
	}
	code, body, _ = request(t, hc, "GET", srv.URL()+"/debug/pprof/profile?seconds=3600", "", nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "at most") {
		t.Fatalf("an hour's profile: %d %q", code, body)
	}
}

// /debug/logs serves the ring's lines, oldest first, all or the last
// ?lines=N; a node without a ring answers 404.
func TestLogsEndpoint(t *testing.T) {
	n := startNode(t)
	logs := admin.NewLogRing(0, 0)
	log := slog.New(slog.NewTextHandler(logs, nil))
	for i := range 5 {
		log.Info("line", "i", i)
	}
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true, Logs: logs})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := c.Fetch(t.Context(), "/debug/logs")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 5 || !strings.Contains(lines[0], "i=0") || !strings.Contains(lines[4], "i=4") {
		t.Fatalf("GET /debug/logs: %q", b)
	}
	b, err = c.Fetch(t.Context(), "/debug/logs?lines=2")
	if err != nil || strings.Count(string(b), "\n") != 2 || !strings.Contains(string(b), "i=3") || !strings.Contains(string(b), "i=4") {
		t.Fatalf("?lines=2: %q %v", b, err)
	}
	if _, err := c.Fetch(t.Context(), "/debug/logs?lines=x"); err == nil {
		t.Fatal("?lines=x: no error")
	}

	bare := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c2, _ := admin.NewClient(bare.Addr(), &admin.ClientOptions{Insecure: true})
	defer c2.Close()
	if _, err := c2.Fetch(t.Context(), "/debug/logs"); err == nil || err.(*admin.StatusError).Code != http.StatusNotFound {
		t.Fatalf("no ring: %v, want 404", err)
	}
}

// The ring keeps the last lines within its bounds of lines and bytes.
func TestLogRingBounds(t *testing.T) {
	r := admin.NewLogRing(3, 0)
	for i := range 10 {
		fmt.Fprintf(r, "line %d\n", i)
	}
	if got := strings.Join(r.Lines(), ""); got != "line 7\nline 8\nline 9\n" {
		t.Fatalf("3 lines: %q", got)
	}
	r = admin.NewLogRing(1000, 100)
	for i := range 1000 {
		fmt.Fprintf(r, "line %03d\n", i) // 9 bytes
	}
	lines := r.Lines()
	if len(lines) != 11 || lines[10] != "line 999\n" {
		t.Fatalf("100 bytes: %d lines, %q", len(lines), lines)
	}
	r.Write(bytes.Repeat([]byte("x"), 1<<20))
	if l := r.Lines(); len(l) != 1 || len(l[0]) > 17<<10 || !strings.HasSuffix(l[0], "…\n") {
		t.Fatalf("a long line: %d lines, %d bytes", len(l), len(l[0]))
	}
}
