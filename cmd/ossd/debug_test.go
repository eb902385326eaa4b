package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"github.com/objectsharing/oss/oss/osstest"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// readArchive returns the files of a tar.gz by name.
func readArchive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
}

// "ossd debug bundle" collects each node's status, metrics, logs and
// profiles into one archive; a node that does not answer is written down
// in its errors.txt, and the others are collected all the same.
func TestDebugBundle(t *testing.T) {
	ctx := context.Background()
	logs := admin.NewLogRing(0, 0)
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	if _, err := n.CreateHeap(ctx, "bank", nil); err != nil {
		t.Fatal(err)
	}
	slog.New(slog.NewTextHandler(logs, nil)).Info("a line for the bundle")
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())

	out := filepath.Join(t.TempDir(), "bundle.tar.gz")
	var stdout bytes.Buffer
	// 127.0.0.1:1: nothing listens there.
	err = debugBundle([]string{"--http", srv.Addr() + ",127.0.0.1:1", "--http-insecure", "--out", out, "--cpu", "1s"}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "partial: 1 of 2 node(s)") {
		t.Fatalf("a bundle missing a node's files: err %v, want it called partial", err)
	}
	files := readArchive(t, out)
	var root string
	for name := range files {
		root, _, _ = strings.Cut(name, "/")
	}
	if !strings.HasPrefix(root, "oss-debug-") {
		t.Fatalf("archive root %q", root)
	}
	get := func(name string) string {
		b, ok := files[root+"/"+name]
		if !ok {
			names := make([]string, 0, len(files))
			for k := range files {
				names = append(names, k)
			}
			t.Fatalf("no %s in the archive: %q", name, names)
		}
		return string(b)
	}
	readme := get("README.txt")
	if !strings.Contains(readme, "ossd debug bundle --http") || !strings.Contains(readme, "time:") || !strings.Contains(readme, "n1/") {
		t.Errorf("README.txt:\n%s", readme)
	}
	var st oss.ClusterStatus
	if err := json.Unmarshal([]byte(get("n1/status.json")), &st); err != nil || st.Node != "n1" {
		t.Errorf("status.json: %v %+v", err, st)
	}
	if m := get("n1/metrics.txt"); !strings.Contains(m, "oss_") || !strings.Contains(m, "go_goroutines") {
		t.Errorf("metrics.txt: %.300q", m)
	}
	if l := get("n1/logs.txt"); !strings.Contains(l, "a line for the bundle") {
		t.Errorf("logs.txt: %q", l)
	}
	if g := get("n1/goroutines.txt"); !strings.Contains(g, "goroutine ") {
		t.Errorf("goroutines.txt: %.200q", g)
	}
	for _, p := range []string{"n1/heap.pb.gz", "n1/cpu.pb.gz"} {
		if b := get(p); !strings.HasPrefix(b, "\x1f\x8b") {
			t.Errorf("%s is no profile: %.40q", p, b)
		}
	}
	if _, ok := files[root+"/n1/errors.txt"]; ok {
		t.Errorf("n1 has errors: %s", files[root+"/n1/errors.txt"])
	}
	if e := get("127.0.0.1_1/errors.txt"); !strings.Contains(e, "status.json") || !strings.Contains(e, "cpu.pb.gz") {
		t.Errorf("the dead node's errors.txt: %q", e)
	}
	if !strings.Contains(stdout.String(), "wrote "+out+": 2 node(s), 1 with errors") {
		t.Errorf("stdout: %q", stdout.String())
	}

	whole := filepath.Join(t.TempDir(), "whole.tar.gz")
	stdout.Reset()
	if err := debugBundle([]string{"--http", srv.Addr(), "--http-insecure", "--out", whole, "--cpu", "0"}, &stdout); err != nil {
		t.Errorf("a bundle of every file of every node: %v", err)
	}
	for name := range readArchive(t, whole) {
		if strings.HasSuffix(name, "/errors.txt") {
			t.Errorf("a whole bundle holds %s", name)
		}
	}
	if !strings.Contains(stdout.String(), "1 node(s), 0 with errors") {
		t.Errorf("stdout of a whole bundle: %q", stdout.String())
	}

	if err := dispatch([]string{"debug"}); err == nil {
		t.Error("debug without bundle: no error")
	}
	if err := dispatch([]string{"debug", "bundle", "--http", srv.Addr(), "--http-insecure", "--cpu", "1h"}); err == nil {
		t.Error("--cpu 1h: no error")
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runLogged runs a node on QUIC (its transport and membership log too)
// with ossd's logger in format, and returns what it logged.
func runLogged(t *testing.T, format string) []string {
	t.Helper()
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var buf syncBuffer
	logger, err := newLogger(&buf, format, slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback, Logger: logger,
		TLS: &oss.TLSConfig{CertPEM: read("n1.crt"), KeyPEM: read("n1.key"), CAPEM: read("ca.crt")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateHeap(ctx, "bank", nil); err != nil {
		t.Fatal(err)
	}
	n.Close(ctx)
	// A node of another CA: n1, joining it, refuses its certificate, and
	// n1's transport logs that.
	other := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", other, "--name", "x1"}); err != nil {
		t.Fatal(err)
	}
	readOther := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(other, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	x, err := oss.Start(ctx, &oss.Config{Name: "x1", Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback, Logger: slog.New(slog.DiscardHandler),
		TLS: &oss.TLSConfig{CertPEM: readOther("x1.crt"), KeyPEM: readOther("x1.key"), CAPEM: readOther("ca.crt")}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(ctx)
	// The join is given up once n1 has logged the refusal; the minute is
	// against a hang, not the pace of a loaded machine.
	jctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg := &oss.Config{Name: "n1", Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback, Logger: logger, Join: []string{x.Addr()},
		TLS: &oss.TLSConfig{CertPEM: read("n1.crt"), KeyPEM: read("n1.key"), CAPEM: read("ca.crt")}}
	joined := make(chan *oss.Node, 1)
	go func() {
		n, err := oss.Start(jctx, cfg)
		if err != nil {
			n = nil
		}
		joined <- n
	}()
	for !strings.Contains(buf.String(), "x1") && jctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if n := osstest.Recv(t, joined, "the joining node's start to return once cancelled"); n != nil {
		n.Close(ctx)
	}
	if !strings.Contains(buf.String(), "x1") {
		t.Fatalf("n1 logged no refusal of x1:\n%s", buf.String())
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("the node logged only:\n%s", buf.String())
	}
	return lines
}

// Issue 17: every line of a node said node= twice, as the node's logger
// and its transport's both added it. Now once: parse each text line into
// its keys.
func TestLogLinesNameTheNodeOnce(t *testing.T) {
	named := 0
	for _, line := range runLogged(t, "text") {
		// slog's text format: key=value or key="quoted value", by spaces;
		// a quoted message holds no unquoted " node=".
		count := 0
		for _, field := range textFields(line) {
			if strings.HasPrefix(field, "node=") {
				count++
			}
		}
		if count > 1 {
			t.Errorf("node= %d times: %s", count, line)
		}
		if count == 1 {
			named++
		}
	}
	if named == 0 {
		t.Fatal("no line names its node")
	}
}

// textFields splits a line of slog's text format into its key=value
// fields, keeping quoted values whole.
func textFields(line string) []string {
	var fields []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range line {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			fields = append(fields, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	return append(fields, cur.String())
}

// --log-format json writes one JSON object a line, the node's name once
// (JSON has no duplicate keys to tell apart: a decoder keeps one).
func TestLogFormatJSON(t *testing.T) {
	named := 0
	for _, line := range runLogged(t, "json") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		if rec["msg"] == nil || rec["level"] == nil || rec["time"] == nil {
			t.Errorf("no msg, level or time: %s", line)
		}
		if c := strings.Count(line, `"node":`); c > 1 {
			t.Errorf(`"node" %d times: %s`, c, line)
		} else if c == 1 {
			named++
		}
	}
	if named == 0 {
		t.Fatal("no line names its node")
	}
	if err := dispatch([]string{"run", "--log-format", "xml"}); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("--log-format xml: %v", err)
	}
}
