package oss

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestMemberlistRepeatsAreNotAFlood writes memberlist's log lines as a
// node whose name another node claims sees them, one "Conflicting
// address" every 2.5 s, with one about another peer among them: a node
// logging at info hears of each peer's conflict once a minute, as a
// warning, not as an error every round; at debug every line is there.
func TestMemberlistRepeatsAreNotAFlood(t *testing.T) {
	var info, debug bytes.Buffer
	now := time.Unix(1_700_000_000, 0)
	w := newSlogWriter(slog.New(teeHandler{
		slog.NewTextHandler(&info, &slog.HandlerOptions{Level: slog.LevelInfo}),
		slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}),
	}), nil)
	w.seen.now = func() time.Time { return now }
	conflict := func(name string) {
		line := "[ERR] memberlist: Conflicting address for " + name + ". Mine: 127.0.0.1:7450 Theirs: 127.0.0.1:7460 Old state: 0\n"
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 24 { // a minute
		conflict("node2")
		if i == 5 {
			conflict("node3")
		}
		now = now.Add(2500 * time.Millisecond)
	}
	conflict("node2") // a minute on: said again
	count := func(b *bytes.Buffer, s string) int { return strings.Count(b.String(), s) }
	if n := count(&info, "level=ERROR"); n != 0 {
		t.Errorf("%d memberlist lines logged as errors:\n%s", n, info.String())
	}
	if a, b := count(&info, "level=WARN msg=\"memberlist: Conflicting address for node2."), count(&info, "for node3."); a != 2 || b != 1 {
		t.Errorf("at info: node2's conflict %d times, node3's %d, want 2 and 1 (once a minute each):\n%s", a, b, info.String())
	}
	if n := count(&debug, "Conflicting address for"); n != 26 {
		t.Errorf("at debug: %d conflict lines, want all 26", n)
	}
}

// teeHandler hands every record to each of its handlers that takes its
// level.
type teeHandler []slog.Handler

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, x := range h {
		if x.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, x := range h {
		if x.Enabled(ctx, r.Level) {
			if err := x.Handle(ctx, r.Clone()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(h))
	for i, x := range h {
		out[i] = x.WithAttrs(as)
	}
	return out
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(h))
	for i, x := range h {
		out[i] = x.WithGroup(name)
	}
	return out
}
