package oss

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// What memberlist says when a node restarted under its name refutes its
// earlier incarnation's record is no warning, and its metadata's bytes
// are left out: every restart logged a warning with a list of numbers.
func TestRestartRefutationIsInfo(t *testing.T) {
	var buf bytes.Buffer
	w := newSlogWriter(slog.New(slog.NewTextHandler(&buf, nil)), nil)
	w.Write([]byte("[WARN] memberlist: Refuting an alive message for 'n2' (127.0.0.1:27402) meta:([165 1 111] VS [165 1 112]), vsn:([1 5 2 0 0 0] VS [1 5 2 0 0 0])\n"))
	w.Write([]byte("[WARN] memberlist: Refuting a dead message (from: n3)\n"))
	out := buf.String()
	if strings.Contains(out, "level=WARN") || strings.Count(out, "level=INFO") != 2 || strings.Contains(out, "meta:(") {
		t.Errorf("refutations logged as:\n%s", out)
	}
	buf.Reset()
	w.Write([]byte("[WARN] memberlist: Conflicting address for n1\n"))
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("another warning logged as:\n%s", buf.String())
	}
}
