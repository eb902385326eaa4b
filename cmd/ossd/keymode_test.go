package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "ossd run" warns, naming the file and the fix, when the node's private
// key is readable or writable by users other than its owner; a key of
// mode 0600 (as "ossd cert issue" writes it) draws no warning. A
// world-readable key used to be taken silently.
func TestRunWarnsOfAnOpenKey(t *testing.T) {
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "n1.key")
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o644, true}, {0o640, true}, {0o604, true}, {0o620, true}} {
		if err := os.Chmod(key, c.mode); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		f := &runFlags{certs: dir, name: "n1"}
		if _, err := f.loadTLS(slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatalf("mode %#o: %v", c.mode, err)
		}
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), key) && strings.Contains(logs.String(), "chmod 600")
		if warned != c.warn {
			t.Errorf("key of mode %#o: warned %v, want %v; logged:\n%s", c.mode, warned, c.warn, logs.String())
		}
	}
}
