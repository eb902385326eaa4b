package oss

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// lockedBuffer is a log's output, read while the node may still write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startOnDir starts and closes node n1 on dir; it returns the node's
// reset key and what the node logged.
func startOnDir(t *testing.T, dir string) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	var logs lockedBuffer
	n, err := Start(ctx, &Config{Name: "n1", DataDir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	key := n.resetKey
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return key, logs.String()
}

// mustBePrivate fails t unless path is a regular file of mode 0600
// holding key.
func mustBePrivate(t *testing.T, path string, key []byte) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want a file of mode 0600", path, fi.Mode())
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, key) {
		t.Errorf("%s holds %x (%v), want the node's key %x", path, got, err, key)
	}
}

// A new reset key is written into a file of its own, mode 0600: over a
// RESET_KEY.tmp left in the data directory of mode 0644 it was written
// 0644, and over one that is a symbolic link into the file it names.
func TestResetKeyIsPrivateOverAStaleTemporaryFile(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	root := t.TempDir()
	dir := filepath.Join(root, "n1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, resetKeyFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		t.Fatal(err)
	}
	key, _ := startOnDir(t, dir)
	mustBePrivate(t, path, key)

	victim := filepath.Join(root, "victim")
	if err := os.WriteFile(victim, []byte("another's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil { // lost: the next start draws a new key
		t.Fatal(err)
	}
	if err := os.Symlink(victim, tmp); err != nil {
		t.Fatal(err)
	}
	key, _ = startOnDir(t, dir)
	mustBePrivate(t, path, key)
	if got, err := os.ReadFile(victim); err != nil || string(got) != "another's" {
		t.Errorf("the file RESET_KEY.tmp linked to holds %x (%v): the key was written through the link", got, err)
	}
}
