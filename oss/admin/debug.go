package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"
)

// Profiling and diagnostics (issue 17, item 4): the Go runtime's profiles
// (net/http/pprof) under /debug/pprof/ and the node's recent log lines at
// /debug/logs, for an operator only (PermAdmin on every heap, "*"): a
// profile shows what the node is doing, a goroutine dump and the logs
// show the names of heaps and nodes, and the command line may carry
// paths. "ossd debug bundle" collects them all.
//
// Importing net/http/pprof registers its handlers on http.DefaultServeMux
// too; no server of OSS serves that mux.

// MaxProfileDuration is the longest ?seconds= a CPU profile, an execution
// trace or a delta profile may take; longer is refused with 400.
const MaxProfileDuration = 5 * time.Minute

// profileSlack is how long a timed profile may take to be written after
// its duration.
const profileSlack = 30 * time.Second

// namedProfiles are the runtime's profiles (runtime/pprof.Lookup) served
// by name; the index (/debug/pprof/) serves any other by name too.
var namedProfiles = []string{"allocs", "block", "goroutine", "heap", "mutex", "threadcreate"}

// registerDebug registers /debug/pprof/ and /debug/logs.
func (a *api) registerDebug() {
	a.handle("GET /debug/pprof/", PermAdmin, 0, timed(pprof.Index))
	a.handle("GET /debug/pprof/cmdline", PermAdmin, 0, pprof.Cmdline)
	a.handle("GET /debug/pprof/profile", PermAdmin, 0, timed(pprof.Profile))
	a.handle("GET /debug/pprof/symbol", PermAdmin, 0, pprof.Symbol)
	a.handle("GET /debug/pprof/trace", PermAdmin, 0, timed(pprof.Trace))
	for _, name := range namedProfiles {
		a.handle("GET /debug/pprof/"+name, PermAdmin, 0, timed(pprof.Handler(name).ServeHTTP))
	}
	a.handle("GET /debug/logs", PermAdmin, 0, a.logs)
}

// timed lets a profile of ?seconds=N outlast the server's timeouts: the
// write timeout (Options.WriteTimeout, 30 s by default) would cut a 30 s
// CPU profile, and net/http/pprof refuses one that is not shorter than
// it. The request's read and write deadlines become N plus profileSlack,
// for this request only.
func timed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := r.URL.Query().Get("seconds")
		if s == "" {
			h(w, r)
			return
		}
		sec, err := strconv.ParseFloat(s, 64)
		if err != nil || sec <= 0 {
			h(w, r) // pprof says what is wrong with it
			return
		}
		d := time.Duration(sec * float64(time.Second))
		if d > MaxProfileDuration {
			fail(w, &badRequest{fmt.Errorf("seconds=%s: a profile may take at most %v", s, MaxProfileDuration)})
			return
		}
		deadline := time.Now().Add(d + profileSlack)
		rc := http.NewResponseController(w)
		// The read deadline too: when it passes, the server cancels the
		// request's context, which ends the profile early.
		rc.SetReadDeadline(deadline)
		rc.SetWriteDeadline(deadline)
		// pprof compares seconds with the server's WriteTimeout; this
		// request's deadline is its own now.
		r = r.WithContext(context.WithValue(r.Context(), http.ServerContextKey, &http.Server{}))
		h(w, r)
	}
}

// logs serves the node's recent log lines (Options.Logs), oldest first:
// all it keeps, or the last ?lines=N.
func (a *api) logs(w http.ResponseWriter, r *http.Request) {
	if a.opts.Logs == nil {
		fail(w, refuse(http.StatusNotFound, "this node keeps no log lines in memory (Options.Logs; ossd run keeps them)"))
		return
	}
	n := 0
	if q := r.URL.Query().Get("lines"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 0 {
			fail(w, &badRequest{fmt.Errorf("lines %q: want a number of lines", q)})
			return
		}
		n = v
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	a.opts.Logs.writeLast(w, n)
}

// LogRing keeps a node's most recent log lines in memory, at most
// maxLines of them and maxBytes in all, for /debug/logs and "ossd debug
// bundle". It is an io.Writer that takes each Write as one line, as
// log/slog's TextHandler and JSONHandler write one record per call: put
// it besides the log's own output (io.MultiWriter(ring, os.Stderr)). It
// is safe for concurrent use.
type LogRing struct {
	mu       sync.Mutex
	lines    [][]byte // lines[head:] are kept, oldest first
	head     int
	bytes    int
	maxLines int
	maxBytes int
}

// DefaultLogLines and DefaultLogBytes are what NewLogRing keeps for a
// zero argument.
const (
	DefaultLogLines = 2000
	DefaultLogBytes = 1 << 20
)

// maxLogLine is the most of one line a LogRing keeps.
const maxLogLine = 16 << 10

// NewLogRing returns a ring of at most maxLines lines and maxBytes bytes
// (DefaultLogLines and DefaultLogBytes if zero).
func NewLogRing(maxLines, maxBytes int) *LogRing {
	if maxLines <= 0 {
		maxLines = DefaultLogLines
	}
	if maxBytes <= 0 {
		maxBytes = DefaultLogBytes
	}
	return &LogRing{maxLines: maxLines, maxBytes: maxBytes}
}

// Write keeps p as one line (cut to 16 KiB), dropping the oldest lines
// over the ring's bounds. It never fails.
func (r *LogRing) Write(p []byte) (int, error) {
	n := len(p)
	line := p
	if len(line) > maxLogLine {
		line = append(line[:maxLogLine:maxLogLine], "…\n"...)
	}
	line = append([]byte(nil), line...)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(line, '\n')
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	r.bytes += len(line)
	for len(r.lines)-r.head > r.maxLines || r.bytes > r.maxBytes && len(r.lines)-r.head > 1 {
		r.bytes -= len(r.lines[r.head])
		r.lines[r.head] = nil
		r.head++
	}
	if r.head > len(r.lines)/2 && r.head > 64 {
		r.lines = append(r.lines[:0], r.lines[r.head:]...)
		r.head = 0
	}
	return n, nil
}

// Lines returns the kept lines, oldest first, each with its newline.
func (r *LogRing) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lines)-r.head)
	for _, l := range r.lines[r.head:] {
		out = append(out, string(l))
	}
	return out
}

// writeLast writes the last n lines (all if n is 0) to w.
func (r *LogRing) writeLast(w io.Writer, n int) {
	lines := r.Lines()
	if n > 0 && n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		if _, err := io.WriteString(w, l); err != nil {
			return
		}
	}
}
