package oss

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/persist"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// startBounded starts a node on dir in a goroutine and fails t if the
// start has not ended after a minute (the FIFO held it for ever).
func startBounded(t *testing.T, dir string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		n, err := Start(context.Background(), &Config{Name: "n1", DataDir: dir})
		if err == nil {
			err = n.Close(context.Background())
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("a start on a data directory holding a FIFO still waits after a minute")
		return nil
	}
}

// TestFIFOInTheDataDirectoryHoldsNoStart: a RESET_KEY made with mkfifo
// held the node's start in open(2) for ever; now it is taken as a
// damaged key's file and replaced by a new key, the node started. A
// NODE_NAME made so fails the start at once, saying which file and why.
func TestFIFOInTheDataDirectoryHoldsNoStart(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	dir := filepath.Join(t.TempDir(), "n1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, resetKeyFile)
	if err := unix.Mkfifo(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := startBounded(t, dir); err != nil {
		t.Fatalf("start with a FIFO as %s: %v", resetKeyFile, err)
	}
	if b, err := os.ReadFile(key); err != nil || len(b) != resetKeySize {
		t.Fatalf("%s after the start: %d bytes, %v; want a new key", resetKeyFile, len(b), err)
	}

	name := filepath.Join(dir, nodeNameFile)
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(name, 0o600); err != nil {
		t.Fatal(err)
	}
	err := startBounded(t, dir)
	if !errors.Is(err, persist.ErrNotRegular) || !strings.Contains(err.Error(), nodeNameFile) {
		t.Fatalf("start with a FIFO as %s: %v; want an error naming it, not a regular file", nodeNameFile, err)
	}
}
